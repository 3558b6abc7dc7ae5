"""What happens after Slack has its acknowledgement: the recorded answer resumes the thread
(in this process on the state store's checkpoints, or on the LangGraph server this app is
mounted on), and every posted copy of the approval request shows the decision.

Slack calls here are best-effort: a failed update or ephemeral reply is logged and never
blocks or undoes a decision. The answer was recorded before any of this ran, so a process
that dies here loses nothing: the next scheduler pass applies unapplied answers.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient

from agentops.actions.clients import build_senders
from agentops.clock import utcnow
from agentops.errors import IntegrationError
from agentops.graph.local import local_runtime
from agentops.server.slack import Click, hhmm
from agentops.settings import Settings
from agentops.store import Stores, ledger
from agentops.store import answers as store_answers
from agentops.store import queries as q
from agentops.store.queries import Row
from agentops.store.state_tables import messages

log = logging.getLogger("agentops.server")
APPLY_TRIES = 30  # a worker holding the incident's lease mid-pass: wait up to ~30 s for it


# ---- ephemeral answers -----------------------------------------------------------------------
def tell(click: Click, text: str) -> None:
    """An ephemeral line to the person who clicked (their `response_url`)."""
    if not click.response_url:
        return
    try:
        WebhookClient(click.response_url, timeout=10).send(
            text=text, response_type="ephemeral", replace_original=False
        )
    except (SlackClientError, OSError) as exc:
        log.warning("ephemeral answer to %s not sent: %s", click.user_id, exc)


# ---- the approval messages -------------------------------------------------------------------
@dataclass(frozen=True)
class Posted:
    """One posted copy of an approval request (the #ml-alerts thread, an approver's DM)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, object]]


def posted_requests(conn: sa.Connection, action_key: str) -> list[Posted]:
    prefix = f"{action_key}|approval_request"
    query = sa.select(messages).where(
        sa.or_(messages.c.message_id == prefix, messages.c.message_id.like(f"{prefix}#%")),
        messages.c.channel == "slack",
        messages.c.status == "sent",
    )
    found: list[Posted] = []
    for row in conn.execute(query.order_by(messages.c.seq)).mappings():
        channel, _, ts = str(row["external_ref"] or "").partition(":")
        if channel and ts:
            blocks = json.loads(row["meta"] or "{}").get("blocks") or []
            found.append(Posted(channel, ts, str(row["text"]), list(blocks)))
    return found


def show_decision(
    settings: Settings,
    stores: Stores,
    action_key: str,
    line: str,
    *,
    keep_buttons: bool = False,
    clicked: tuple[str, str] | None = None,
) -> list[str]:
    """`line` on every copy of the request (and the clicked message), its buttons replaced
    by it — or kept, when the answer decided nothing. Returns the errors; never raises."""
    sender = build_senders(settings).slack
    if sender is None:
        return ["no Slack token (AGENTOPS_SLACK_TOKEN): the messages were not updated"]
    with stores.state.connect() as conn:
        copies = posted_requests(conn, action_key)
    if clicked and clicked not in {(c.channel, c.ts) for c in copies}:
        first = copies[0] if copies else Posted("", "", "", [])
        copies.append(Posted(*clicked, first.text, first.blocks))
    errors: list[str] = []
    for copy in copies:
        context: dict[str, object] = {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": line[:2900]}],
        }
        section: dict[str, object] = {
            "type": "section",
            "text": {"type": "mrkdwn", "text": copy.text[:2900]},
        }
        blocks: list[dict[str, object]] = (
            [*copy.blocks, context] if keep_buttons and copy.blocks else [section, context]
        )
        try:
            sender.update(copy.channel, copy.ts, f"{copy.text}\n{line}".strip(), blocks=blocks)
        except IntegrationError as exc:
            errors.append(str(exc))
    for error in errors:
        log.warning("%s: %s", action_key, error)
    return errors


def first_line(answer: Row) -> str:
    """The decision as the click made it, before the thread has taken it."""
    what = _what(answer)
    who = f"{answer['person']} at {hhmm(answer['received_at'])}"
    if answer["decision"] == "approve":
        return f"✅ Approved by {who} — {what} running"
    return f"⛔ Rejected by {who} — {what} will not run; the ML team lead takes the incident"


def final_line(stores: Stores, answer: Row, outcome: str) -> tuple[str, bool]:
    """(the decision line after the thread took the answer, whether the request is still
    open — its buttons stay)."""
    what, key = _what(answer), str(answer["action_key"])
    who = f"{answer['person']} at {hhmm(answer['received_at'])}"
    with stores.state.connect() as conn:
        done = ledger.get(conn, key)
        row = q.get_incident_row(conn, str(answer["incident_id"]))
    if done is not None and done.get("approved_by") != answer["person"]:
        by = f" by {done['approved_by']}" if done.get("approved_by") else ""
        return f"ℹ️ {what} was already {done['status']}{by} before the answer of {who}", False
    if done is not None and answer["decision"] == "approve":
        mark = "✅" if done["status"] == "succeeded" else "⚠️"
        said = str(done.get("detail") or "").split(";")[0].strip()[:200]
        detail = f" ({said})" if said else ""
        return f"{mark} Approved by {who} — {what}: {done['status']}{detail}", False
    if done is not None or outcome.startswith("decided"):
        return first_line(answer), False
    if outcome.startswith("refused"):
        why = outcome.removeprefix("refused: ") or _last_refusal(row) or "not accepted"
        return (
            f"⚠️ {answer['person']}'s answer at {hhmm(answer['received_at'])} was refused: {why}",
            True,
        )
    if outcome.startswith("no longer pending"):
        return f"ℹ️ {answer['person']}'s answer came after the request closed; nothing ran", False
    return f"⏳ {_past(answer)} by {who} — {what} queued: the next pass runs it", False


def _what(answer: Row) -> str:
    _incident, kind, target = str(answer["action_key"]).split("|", 2)
    return f"{kind} → {target}"


def _past(answer: Row) -> str:
    return "Approved" if answer["decision"] == "approve" else "Rejected"


def _last_refusal(row: Row | None) -> str:
    refused = [t.note for t in q.incident_timeline(row or {}) if t.phase == "answer_refused"]
    return refused[-1] if refused else ""


# ---- resuming in this process ----------------------------------------------------------------
def finish_locally(settings: Settings, stores: Stores, answer: Row, click: Click) -> None:
    """Resume the thread with the recorded answer on the state store's checkpoints (as the
    person, via Slack), then show the outcome on the request's messages."""
    show_decision(
        settings, stores, str(answer["action_key"]), first_line(answer), clicked=click.message
    )
    outcome = ""
    with local_runtime(settings, "serve", stores) as rt:
        for attempt in range(APPLY_TRIES):
            rt.scheduler().apply_answer(answer)
            outcome = _outcome(stores, str(answer["answer_id"]))
            if outcome:
                break
            time.sleep(min(1.0, 0.1 * (attempt + 1)))
    settle(settings, stores, answer, click, outcome or "queued")


def settle(settings: Settings, stores: Stores, answer: Row, click: Click, outcome: str) -> None:
    line, still_open = final_line(stores, answer, outcome)
    show_decision(
        settings,
        stores,
        str(answer["action_key"]),
        line,
        keep_buttons=still_open,
        clicked=click.message,
    )
    if still_open:
        tell(click, f"Nothing was decided: {line.removeprefix('⚠️ ')}")


def _outcome(stores: Stores, answer_id: str) -> str:
    with stores.state.connect() as conn:
        found = store_answers.get_answer(conn, answer_id)
    return str((found or {}).get("outcome") or "")


def record_outcome(stores: Stores, answer: Row, outcome: str) -> None:
    with stores.state.begin() as conn:
        store_answers.mark_applied(conn, str(answer["answer_id"]), at=utcnow(), outcome=outcome)


def server_outcome(stores: Stores, answer: Row) -> str:
    """What the server's run did with the answer, read from the ledger and the timeline."""
    with stores.state.connect() as conn:
        done = ledger.get(conn, str(answer["action_key"]))
        row = q.get_incident_row(conn, str(answer["incident_id"]))
    if done is not None and done.get("approved_by") == answer["person"]:
        return f"decided: {answer['decision']} by {answer['person']}"
    if done is not None:
        return "no longer pending"
    return f"refused: {_last_refusal(row) or 'the answer was not accepted'}"
