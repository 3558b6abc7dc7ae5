"""`agentops silence | silences | unsilence | retire | unretire`: stopping pages on purpose.

A silence (a maintenance window) covers one model, or one alert type of it, until a time and
then ends by itself; a retired model stays quiet until it is brought back. Each records who
and why, and `agentops silences` lists them, so "why did nothing page?" has an answer.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from agentops.cli.app import (
    ALERT_TYPES,
    JsonFlag,
    NowOption,
    app,
    console,
    iso_time,
    print_json,
    resolve_now,
    settings,
)
from agentops.cli.tables import table, when, whole, wrapped
from agentops.clock import iso, parse_instant
from agentops.errors import DataError

AsOption = Annotated[str, typer.Option("--as", help="who does it (recorded with the reason)")]
ReasonOption = Annotated[str, typer.Option("--reason", help="why (shown in `agentops silences`)")]


def alert_type(value: str | None) -> str | None:
    if value is not None and value not in ALERT_TYPES:
        raise typer.BadParameter(f"unknown alert type {value!r}; one of {', '.join(ALERT_TYPES)}")
    return value


def _known_model(model: str) -> None:
    from agentops.store import open_monitoring
    from agentops.store import queries as q

    with open_monitoring(settings().resolved_database_url).connect() as conn:
        q.require_model(conn, model)


@app.command("silence")
def silence(
    model: Annotated[str, typer.Argument(help="the model to keep quiet")],
    until: Annotated[
        str, typer.Option("--until", help="when it ends, ISO-8601 UTC", callback=iso_time)
    ],
    reason: ReasonOption,
    alert: Annotated[
        str | None,
        typer.Option(
            "--alert", help=f"only this alert type ({', '.join(ALERT_TYPES)})", callback=alert_type
        ),
    ] = None,
    who: AsOption = "local operator",
    now: NowOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Stop pages for MODEL (or one alert type of it) until a time: a maintenance window.
    It ends by itself; `agentops unsilence ID` ends it early."""
    from agentops.store import open_state, silences

    _known_model(model)
    clock = resolve_now(now)
    end = parse_instant(until, what="--until")
    with open_state(settings().resolved_state_url).begin() as conn:
        silence_id = silences.add(
            conn,
            model_name=model,
            kind="silence",
            alert_type=alert,
            until=end,
            reason=reason,
            created_by=who,
            now=clock,
        )
    if json_out:
        print_json({"silence_id": silence_id, "model_name": model, "until": iso(end)})
        return
    what = f"{alert} alerts of {model}" if alert else f"every alert of {model}"
    console.print(f"{silence_id}: {what} silenced until {iso(end)} ({reason})", markup=False)


@app.command("unsilence")
def unsilence(
    silence_id: Annotated[str, typer.Argument(help="the silence's id (SIL-...)")],
    now: NowOption = None,
) -> None:
    """End a silence early."""
    from agentops.store import open_state, silences

    with open_state(settings().resolved_state_url).begin() as conn:
        lifted = silences.lift(conn, silence_id, now=resolve_now(now))
    if not lifted:
        raise DataError(f"no silence {silence_id!r} in force; `agentops silences` lists them")
    console.print(f"{silence_id} lifted: its model pages again")


@app.command("retire")
def retire(
    model: Annotated[str, typer.Argument(help="the model that no longer serves")],
    reason: ReasonOption,
    who: AsOption = "local operator",
    now: NowOption = None,
) -> None:
    """Retire MODEL: no page of any kind (no_data included) until `agentops unretire`."""
    from agentops.store import open_state, silences

    _known_model(model)
    with open_state(settings().resolved_state_url).begin() as conn:
        silence_id = silences.add(
            conn,
            model_name=model,
            kind="retired",
            reason=reason,
            created_by=who,
            now=resolve_now(now),
        )
    console.print(f"{model} retired ({silence_id}): it pages no more ({reason})", markup=False)


@app.command("unretire")
def unretire(
    model: Annotated[str, typer.Argument(help="the retired model")],
    now: NowOption = None,
) -> None:
    """Bring a retired model back: it pages again."""
    from agentops.store import open_state, silences

    with open_state(settings().resolved_state_url).begin() as conn:
        lifted = silences.lift_retirement(conn, model, now=resolve_now(now))
    if not lifted:
        raise DataError(f"{model!r} is not retired; `agentops silences` lists what is")
    console.print(f"{model} is back: it pages again")


@app.command("silences")
def silences_list(
    now: NowOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Silences and retired models, the ones in force first."""
    from agentops.store import open_state, silences

    clock = resolve_now(now)
    with open_state(settings().resolved_state_url).connect() as conn:
        rows = silences.listed(conn)
        live = {r["silence_id"] for r in silences.active(conn, clock)}
    out: list[dict[str, Any]] = [
        {
            "silence_id": r["silence_id"],
            "model_name": r["model_name"],
            "alert_type": r.get("alert_type"),
            "kind": r["kind"],
            "until": iso(r["until"]) if r.get("until") else None,
            "reason": r["reason"],
            "created_by": r["created_by"],
            "in_force": r["silence_id"] in live,
        }
        for r in rows
    ]
    out.sort(key=lambda r: not r["in_force"])
    if json_out:
        print_json(out)
        return
    if not out:
        console.print("no silence and no retired model: every model pages")
        return
    # two short values a cell, so that the ids fit whole in 80 columns
    listed = table(
        whole("id\nmodel"),
        whole("alert\nkind"),
        whole("until\nin force"),
        wrapped("reason"),
        rows_apart=True,
    )
    for r in out:
        listed.add_row(
            escape(f"{r['silence_id']}\n{r['model_name']}"),
            f"{r['alert_type'] or 'all'}\n{r['kind']}",
            f"{when(r['until'])}\n{'yes' if r['in_force'] else 'no'}",
            escape(f"{r['reason']}\nby {r['created_by']}"),
        )
    console.print(listed)
