"""People's controls on an incident, the same from the CLI and from Slack (issue 12).

Every control comes from a verified person (`who`: the person at the CLI, who must be in the
policy file's `contacts`; the Slack user behind a signed click) and is recorded with that
identity in the incident's timeline, which `incidents show` and the post-mortem read:

- acknowledge: the person owns the incident (`owner`); "nobody took it" escalations stop;
- note: free text in the timeline;
- confirm-fix: the upstream fix is confirmed (a retrain waiting for it may start);
- resolve / false-positive: an incident waiting for recovery is closed by hand, with a
  reason. The answer is recorded first, then the thread takes it (`await_recovery` closes
  it: post-mortem, resolution message); a process killed in between leaves it to the next
  scheduler pass, which applies recorded answers first;
- reopen: a resolved incident is open again; the next pass handles it in a new thread.

A control that does not apply (an unknown person, a resolved incident acknowledged, a
resolve while an approval is pending) raises with the reason and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from agentops import actions
from agentops.actions.policy import load_policy
from agentops.actions.untrusted import slack_text
from agentops.clock import iso
from agentops.domain import APPROVAL_REQUIRED, IncidentStatus, TimelineEntry
from agentops.errors import AgentOpsError, ApprovalError, DataError
from agentops.graph.identity import Identity
from agentops.graph.local import LocalRuntime
from agentops.settings import Settings
from agentops.store import Stores, locks
from agentops.store import answers as store_answers
from agentops.store import incidents as store_incidents
from agentops.store import queries as q

Closing = Literal["resolve", "false_positive"]
CLOSINGS: dict[str, str] = {"resolve": "resolved by hand", "false_positive": "false positive"}
RESOLVED = IncidentStatus.resolved.value
log = logging.getLogger("agentops.controls")


@dataclass(frozen=True)
class Done:
    """What a control did, in a sentence for the person who asked."""

    incident_id: str
    control: str
    text: str
    answer_id: str | None = None
    # a reply for the incident's Slack thread (kind, text): `announce` sends it, the CLI at
    # once, the Slack app after it has answered the click
    reply: tuple[str, str] | None = None


def cli_person(settings: Settings, name: str) -> Identity:
    """The person at the terminal: a person in `contacts` (with no contacts configured, a
    configured approver). Anything else is refused, so a typo never acts under a name."""
    people = load_policy(settings).people
    if people.contacts:
        if name not in people.contacts:
            known = ", ".join(sorted(people.contacts))
            raise ApprovalError(
                f"nothing was done: {name!r} is not a person in the policy file's contacts "
                f"({known})"
            )
        return Identity(name, "cli")
    approvers = {
        n for kind in APPROVAL_REQUIRED for n in people.approvers_for(kind, settings.approvers)
    }
    if name not in approvers:
        raise ApprovalError(
            f"nothing was done: {name!r} is not a known person — add them to `contacts` in the "
            "policy file (or, with no contacts, to `approvers` / AGENTOPS_APPROVERS)"
        )
    return Identity(name, "cli")


def _row(conn: sa.Connection, incident_id: str) -> dict[str, Any]:
    row = q.get_incident_row(conn, incident_id)
    if row is None:
        raise DataError(
            f"nothing was done: no incident {incident_id!r} (`agentops incidents list`)"
        )
    return row


def _entry(phase: str, at: datetime, note: str) -> TimelineEntry:
    return TimelineEntry.model_validate({"phase": phase, "at": at, "note": note})


def _by(who: Identity) -> str:
    return f"{who.name} ({who.via})"


def _open_only(row: dict[str, Any], what: str) -> None:
    if row["status"] == RESOLVED:
        raise DataError(
            f"nothing was done: {row['incident_id']} is resolved; {what} applies to an open "
            f"incident (`agentops reopen {row['incident_id']} --reason ...` first)"
        )


def acknowledge(stores: Stores, incident_id: str, who: Identity, *, at: datetime) -> Done:
    """`who` owns the incident from now on (a second person takes it over, said so)."""
    with stores.state.begin() as conn:
        locks.serialize(conn, f"incident:{incident_id}")
        row = _row(conn, incident_id)
        _open_only(row, "acknowledge")
        before = row.get("owner")
        if before == who.name:
            return Done(
                incident_id, "acknowledge", f"{incident_id} is already yours; nothing changed"
            )
        store_incidents.set_incident_fields(conn, incident_id, owner=who.name)
        taken = f" from {before}" if before else ""
        note = f"{_by(who)} took ownership{taken}"
        store_incidents.add_timeline(conn, incident_id, [_entry("acknowledged", at, note)])
    reply = f"👀 {who.name} acknowledged {incident_id} and owns it now{taken}."
    return Done(
        incident_id,
        "acknowledge",
        f"{incident_id} is yours now{taken}",
        reply=(f"acknowledged:{who.name}", reply),
    )


def add_note(stores: Stores, incident_id: str, who: Identity, text: str, *, at: datetime) -> Done:
    text = text.strip()
    if not text:
        raise DataError("nothing was done: the note is empty")
    with stores.state.begin() as conn:
        locks.serialize(conn, f"incident:{incident_id}")
        _row(conn, incident_id)
        store_incidents.add_timeline(conn, incident_id, [_entry("note", at, f"{_by(who)}: {text}")])
    return Done(incident_id, "note", f"note added to {incident_id}")


def confirm_fix(
    stores: Stores, incident_id: str, who: Identity, comment: str, *, at: datetime
) -> Done:
    """The upstream fix is in: recorded for the retrain that waits for it, and said in
    the incident's thread."""
    with stores.state.begin() as conn:
        locks.serialize(conn, f"incident:{incident_id}")
        row = _row(conn, incident_id)
        _open_only(row, "confirm-fix")
        detail = f": {comment.strip()}" if comment.strip() else ""
        note = f"{_by(who)} confirmed the upstream fix{detail}"
        store_incidents.add_timeline(
            conn, incident_id, [_entry("upstream_fix_confirmed", at, note)]
        )
    return Done(
        incident_id,
        "confirm_fix",
        f"upstream fix confirmed for {incident_id}",
        reply=(f"upstream_fix:{who.name}", f"🔧 {who.name} confirmed the upstream fix{detail}."),
    )


def record_closing(
    stores: Stores, incident_id: str, who: Identity, control: Closing, reason: str, *, at: datetime
) -> dict[str, Any]:
    """Record a person's resolve / false positive of an incident that waits for recovery;
    returns the recorded answer for `apply_closing` (the next pass applies it otherwise)."""
    reason = reason.strip()
    if not reason:
        raise DataError(f"nothing was done: {CLOSINGS[control]} needs a reason (--reason)")
    with stores.state.begin() as conn:
        locks.serialize(conn, f"incident:{incident_id}")
        row = _row(conn, incident_id)
        _open_only(row, CLOSINGS[control])
        waiting = row.get("waiting_for")
        if waiting != "recovery" or not row.get("thread_id"):
            raise DataError(_not_waiting_for_recovery(row))
        held = store_answers.standing(conn, thread_id=str(row["thread_id"]))
        if held is not None:
            raise DataError(
                f"nothing was done: {held['person']} already asked to close {incident_id} "
                f"({held['decision']}); the next pass applies it"
            )
        answer_id = store_answers.record_answer(
            conn,
            incident_id=incident_id,
            thread_id=str(row["thread_id"]),
            kind="control",
            decision=control,
            person=who.name,
            via=who.via,
            comment=reason,
            received_at=at,
        )
        answer = store_answers.get_answer(conn, answer_id)
    assert answer is not None, "just recorded"
    return answer


def _not_waiting_for_recovery(row: dict[str, Any]) -> str:
    incident_id = row["incident_id"]
    if row.get("waiting_for") == "approval":
        return (
            f"nothing was done: {incident_id} waits for an approval of "
            f"{row.get('waiting_detail') or 'an action'}; answer it first "
            f"(`agentops approve {incident_id} --approver NAME [--reject]`), then close it "
            "while it waits for recovery"
        )
    return (
        f"nothing was done: {incident_id} is {row['status']} and still being handled; it can be "
        "closed by hand once it waits for recovery (`agentops threads`)"
    )


def apply_closing(rt: LocalRuntime, answer: dict[str, Any]) -> Done:
    """Hand the recorded closing to the incident's thread, as the person who gave it."""
    rt.scheduler().apply_answer(answer)
    with rt.stores.state.connect() as conn:
        applied = store_answers.get_answer(conn, str(answer["answer_id"]))
        row = q.get_incident_row(conn, str(answer["incident_id"]))
    outcome = str((applied or {}).get("outcome") or "")
    incident_id = str(answer["incident_id"])
    what = CLOSINGS[str(answer["decision"])]
    if not outcome:
        text = f"{what} recorded for {incident_id}; a worker holds it now, the next pass applies it"
    elif outcome.startswith("decided"):
        status = row["status"] if row else "?"
        text = f"{incident_id} closed as {what} ({status})"
        if answer["decision"] == "false_positive":
            text += "; " + _feed_the_evals(rt, answer)
    else:
        raise DataError(f"nothing was done: {incident_id} was not closed ({outcome})")
    return Done(incident_id, str(answer["decision"]), text, str(answer["answer_id"]))


def _feed_the_evals(rt: LocalRuntime, answer: dict[str, Any]) -> str:
    """A false positive becomes an eval case expecting no incident on that data, under
    $AGENTOPS_HOME/evals/false_positives: `agentops eval --cases` there shows which still page."""
    from agentops.evals.export import export_case, next_case_number

    folder = rt.settings.home / "evals" / "false_positives"
    try:
        path = export_case(
            rt.stores,
            str(answer["incident_id"]),
            folder,
            number=next_case_number(folder),
            false_positive=str(answer.get("comment") or "marked by a person"),
        )
    except DataError as exc:
        return f"not added to the evals: {exc}"
    return f"added to the evals as {path} (`agentops eval --cases {folder}`)"


def reopen(stores: Stores, incident_id: str, who: Identity, reason: str, *, at: datetime) -> Done:
    """A resolved incident is open again; the next pass handles it in a new thread (the
    earlier thread ended with the resolution)."""
    reason = reason.strip()
    if not reason:
        raise DataError("nothing was done: reopen needs a reason (--reason)")
    with stores.state.begin() as conn:
        locks.serialize(conn, "detect")  # detection reads the resolved incidents it may reopen
        row = _row(conn, incident_id)
        if row["status"] != RESOLVED:
            raise DataError(
                f"nothing was done: {incident_id} is {row['status']}, not resolved; only a "
                "resolved incident can be reopened"
            )
        store_incidents.set_incident_fields(
            conn,
            incident_id,
            status=IncidentStatus.open.value,
            resolved_at=None,
            thread_id=None,
            waiting_for=None,
            waiting_detail=None,
            lease_owner=None,
            lease_until=None,
            remediated_at=None,
        )
        note = f"{_by(who)}: {reason}"
        store_incidents.add_timeline(conn, incident_id, [_entry("reopened", at, note)])
    store_incidents.mirror(stores.monitoring, stores.state, incident_id)
    return Done(
        incident_id,
        "reopen",
        f"{incident_id} is open again; the next pass handles it",
        reply=(f"reopened:{iso(at)}", f"↩️ {who.name} reopened {incident_id}: {reason}"),
    )


def announce(stores: Stores, settings: Settings, done: Done, *, at: datetime) -> None:
    """Send a control's reply in the incident's Slack thread. A failure is the outbox's to
    retry (logged here) and never undoes the control."""
    if done.reply is None:
        return
    kind, text = done.reply
    with stores.state.connect() as conn:
        row = q.get_incident_row(conn, done.incident_id)
    if row is None:
        return
    try:
        # a person's typed reason is untrusted text like any other: no mentions, no links
        safe = slack_text(text)
        actions.post_reply(stores, settings, q.incident_from_row(row), kind, safe, now=at)
    except AgentOpsError as exc:
        log.warning("%s: reply %s not sent: %s", done.incident_id, kind, exc)
