"""People's controls from a terminal: `agentops ack | note | confirm-fix | false-positive |
resolve | reopen INCIDENT --as NAME`.

NAME is you: a person in the policy file's `contacts` (with no contacts, a configured
approver); the record says it came from the local CLI. Each control is written to the
incident's timeline with that identity (`agentops incidents show`, the post-mortem); see
`agentops.controls` for what each one does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from agentops.cli.app import JsonFlag, NowOption, app, console, print_json, resolve_now, settings

if TYPE_CHECKING:
    from agentops import controls
    from agentops.graph.identity import Identity
    from agentops.settings import Settings
    from agentops.store import Stores

IncidentArg = Annotated[str, typer.Argument(help="the incident id, e.g. INC-2026-1120-1")]
PersonOption = Annotated[
    str, typer.Option("--as", help="you: a person in the policy file's contacts")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="why (kept in the timeline)")]


def _run(
    person: str,
    at: datetime,
    json_out: bool,
    control: Callable[[Settings, Stores, Identity], controls.Done],
) -> None:
    from agentops import controls
    from agentops.graph.local import open_stores

    cfg = settings()
    who = controls.cli_person(cfg, person)
    stores = open_stores(cfg)
    try:
        done = control(cfg, stores, who)
        controls.announce(stores, cfg, done, at=at)
    finally:
        stores.dispose()
    if json_out:
        print_json(
            {
                "incident_id": done.incident_id,
                "control": done.control,
                "by": who.name,
                "result": done.text,
            }
        )
    else:
        console.print(done.text, markup=False)


@app.command("ack")
def ack(
    incident: IncidentArg, person: PersonOption, now: NowOption = None, json_out: JsonFlag = False
) -> None:
    """Take ownership of an incident: "nobody took it" escalations stop."""
    from agentops import controls

    at = resolve_now(now)
    _run(person, at, json_out, lambda _c, s, who: controls.acknowledge(s, incident, who, at=at))


@app.command("note")
def note(
    incident: IncidentArg,
    text: Annotated[str, typer.Argument(help="the note")],
    person: PersonOption,
    now: NowOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Add a note to an incident's timeline."""
    from agentops import controls

    at = resolve_now(now)
    _run(person, at, json_out, lambda _c, s, who: controls.add_note(s, incident, who, text, at=at))


@app.command("confirm-fix")
def confirm_fix(
    incident: IncidentArg,
    person: PersonOption,
    comment: Annotated[str, typer.Option("--comment", help="what was fixed")] = "",
    now: NowOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Confirm the upstream fix is in (a retrain that waits for it may start)."""
    from agentops import controls

    at = resolve_now(now)
    _run(
        person,
        at,
        json_out,
        lambda _c, s, who: controls.confirm_fix(s, incident, who, comment, at=at),
    )


def _close(
    incident: str, person: str, reason: str, now: str | None, json_out: bool, how: controls.Closing
) -> None:
    from agentops import controls
    from agentops.graph.local import local_runtime

    at = resolve_now(now)

    def close(cfg: Settings, stores: Stores, who: Identity) -> controls.Done:
        answer = controls.record_closing(stores, incident, who, how, reason, at=at)
        with local_runtime(cfg, how, stores) as rt:
            return controls.apply_closing(rt, answer)

    _run(person, at, json_out, close)


@app.command("resolve")
def resolve(
    incident: IncidentArg,
    person: PersonOption,
    reason: ReasonOption,
    now: NowOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Close an incident that waits for recovery by hand (post-mortem, resolution message)."""
    _close(incident, person, reason, now, json_out, "resolve")


@app.command("false-positive")
def false_positive(
    incident: IncidentArg,
    person: PersonOption,
    reason: ReasonOption,
    now: NowOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Close an incident that waits for recovery as a false positive."""
    _close(incident, person, reason, now, json_out, "false_positive")


@app.command("reopen")
def reopen(
    incident: IncidentArg,
    person: PersonOption,
    reason: ReasonOption,
    now: NowOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Reopen a resolved incident; the next pass handles it in a new thread."""
    from agentops import controls

    at = resolve_now(now)
    _run(person, at, json_out, lambda _c, s, who: controls.reopen(s, incident, who, reason, at=at))
