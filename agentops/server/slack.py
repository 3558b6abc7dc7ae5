"""Slack's interactivity callbacks: verify the request, read the click, find the person,
record their answer (CONTRACT.md, "Operating an incident").

A click counts only when all of these hold, checked in this order; the first that fails
answers and changes nothing:
1. Slack signed it (v0 HMAC-SHA256 over `v0:{timestamp}:{body}` with
   AGENTOPS_SLACK_SIGNING_SECRET, slack-sdk's verifier) within the last 5 minutes — else 401;
2. it is a `block_actions` payload with one of our buttons — else 400, one line;
3. the Slack user is a person in the policy file's `contacts` — else an ephemeral answer;
4. for Approve / Reject: approvers are configured, the person is one of this action's, and
   nobody answered it before (a second click, a replayed request, a click after the
   decision) — else an ephemeral answer saying so.

Then the answer is recorded (fast, before Slack's 3-second deadline) and the thread is
resumed after the HTTP answer (`app.py`). The graph checks the answer again when it takes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import sqlalchemy as sa
from slack_sdk.signature import Clock, SignatureVerifier

from agentops import controls
from agentops.actions.messaging import (
    ACK_ACTION_ID,
    APPROVE_ACTION_ID,
    CONFIRM_FIX_ACTION_ID,
    REJECT_ACTION_ID,
)
from agentops.actions.policy import load_policy
from agentops.domain import APPROVAL_REQUIRED, ActionType
from agentops.errors import AgentOpsError
from agentops.graph.approval import NO_APPROVERS
from agentops.graph.identity import Identity
from agentops.settings import Settings
from agentops.store import Stores, ledger, locks
from agentops.store import answers as store_answers
from agentops.store import queries as q
from agentops.store.queries import Row

SIGNATURE_WINDOW_S = 5 * 60
DECISIONS = {APPROVE_ACTION_ID: "approve", REJECT_ACTION_ID: "reject"}
CONTROLS = {ACK_ACTION_ID: "acknowledge", CONFIRM_FIX_ACTION_ID: "confirm_fix"}


class Refused(Exception):
    """The request itself is refused: an HTTP status and one line saying why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Click:
    user_id: str
    action_id: str
    value: str
    response_url: str | None
    message: tuple[str, str] | None  # (channel, ts) of the message whose button was clicked


@dataclass(frozen=True)
class Taken:
    """What a click did: an ephemeral line for the person now, and for a recorded approval
    the answer the thread is resumed with after Slack has its acknowledgement."""

    ephemeral: str | None = None
    answer: Row | None = None
    control: controls.Done | None = None


# ---- 1. the signature ----------------------------------------------------------------------
class _At(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def verify_signature(
    secret: str | None, headers: Mapping[str, str], body: bytes, *, now: float
) -> None:
    """Refused(401) unless Slack signed `body` with `secret` within the last 5 minutes."""
    if not secret:
        raise Refused(503, "AGENTOPS_SLACK_SIGNING_SECRET is not set: every Slack click is refused")
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise Refused(401, "not a signed Slack request (X-Slack-Signature missing)")
    try:
        signed_at = int(timestamp)
    except ValueError:
        raise Refused(401, "X-Slack-Request-Timestamp is not a Unix time") from None
    age = now - signed_at
    if abs(age) > SIGNATURE_WINDOW_S:
        raise Refused(401, f"stale request: signed {int(age)} s ago (Slack's window is 5 minutes)")
    if not SignatureVerifier(secret, clock=_At(now)).is_valid(body, timestamp, signature):
        raise Refused(401, "the Slack signature does not match this request")


# ---- 2. the payload ------------------------------------------------------------------------
def parse_click(body: bytes) -> Click:
    """The click in Slack's `block_actions` payload (form field `payload`); Refused(400)."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=False)
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8 form data") from None
    raw = (form.get("payload") or [""])[0]
    if not raw:
        raise Refused(400, "no `payload` form field: not a Slack interactivity request")
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError:
        raise Refused(400, "the `payload` field is not JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        kind = payload.get("type") if isinstance(payload, dict) else type(payload).__name__
        raise Refused(400, f"unsupported interaction {kind!r}: only block_actions (buttons)")
    user = payload.get("user") or {}
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not user_id:
        raise Refused(400, "the payload names no user.id")
    clicked = payload.get("actions")
    action = clicked[0] if isinstance(clicked, list) and clicked else None
    if not isinstance(action, dict):
        raise Refused(400, "the payload holds no actions[0]")
    action_id, value = action.get("action_id"), action.get("value")
    if action_id not in DECISIONS and action_id not in CONTROLS:
        raise Refused(400, f"unknown action_id {action_id!r}: not an agentops button")
    if not isinstance(value, str) or not value:
        raise Refused(400, f"{action_id}: the button carries no value")
    if action_id in DECISIONS:
        _action_key_parts(value)
    url = payload.get("response_url")
    return Click(
        user_id=user_id,
        action_id=str(action_id),
        value=value,
        response_url=url if isinstance(url, str) and url.startswith("http") else None,
        message=_clicked_message(payload),
    )


def _clicked_message(payload: dict[str, Any]) -> tuple[str, str] | None:
    def part(name: str) -> dict[str, Any]:
        value = payload.get(name)
        return value if isinstance(value, dict) else {}

    channel = part("container").get("channel_id") or part("channel").get("id")
    ts = part("container").get("message_ts") or part("message").get("ts")
    return (str(channel), str(ts)) if channel and ts else None


def _action_key_parts(key: str) -> tuple[str, ActionType, str]:
    """(incident id, action type, target) from an approval button's ledger key."""
    parts = key.split("|")
    kinds = {k.value for k in APPROVAL_REQUIRED}
    if len(parts) != 3 or not parts[0] or parts[1] not in kinds or not parts[2]:
        raise Refused(400, f"button value {key!r} is not an approval's action key")
    return parts[0], ActionType(parts[1]), parts[2]


# ---- 3 and 4. the person and the answer ----------------------------------------------------
UNKNOWN_PERSON = (
    "You are not a known person in agentops' policy file (no contact there has your Slack "
    "user id {user}): nothing was done."
)


def take_click(
    settings: Settings, stores: Stores, click: Click, *, at: datetime, on_server: bool = False
) -> Taken:
    """Verify the person and record what they asked for; nothing runs here. `on_server`:
    the thread lives on the LangGraph server this app is mounted on, which takes the answer
    itself (so no local pass may apply it)."""
    people = load_policy(settings).people
    person = people.person_for_slack_user(click.user_id)
    if person is None:
        return Taken(ephemeral=UNKNOWN_PERSON.format(user=click.user_id))
    who = Identity(person, "slack")
    if click.action_id in CONTROLS:
        return _take_control(stores, click, who, at)
    incident_id, kind, target = _action_key_parts(click.value)
    allowed = people.approvers_for(kind, settings.approvers)
    if not allowed:
        return Taken(ephemeral=f"Nothing was decided: {NO_APPROVERS}.")
    if person not in allowed:
        return Taken(
            ephemeral=f"You may not approve this: {person} is not an approver of {kind.value} "
            f"(approvers: {', '.join(allowed)}). Nothing was decided."
        )
    with stores.state.begin() as conn:
        locks.serialize(conn, f"answer:{click.value}")  # two clicks at once: one records
        row = q.get_incident_row(conn, incident_id)
        if row is None:
            return Taken(ephemeral=f"No incident {incident_id}: nothing was decided.")
        late = _already_answered(conn, click.value, row, f"{kind.value} → {target}")
        if late is not None:
            return Taken(ephemeral=late)
        answer_id = store_answers.record_answer(
            conn,
            incident_id=incident_id,
            thread_id=str(row["thread_id"]),
            kind="approval",
            action_key=click.value,
            decision=DECISIONS[click.action_id],
            person=person,
            via="slack",
            received_at=at,
        )
        if on_server:  # the server's own queue runs it; a local pass must not apply it too
            store_answers.mark_applied(
                conn, answer_id, at=at, outcome="sent to the LangGraph server"
            )
        answer = store_answers.get_answer(conn, answer_id)
    return Taken(answer=answer)


def _already_answered(conn: sa.Connection, action_key: str, row: Row, describes: str) -> str | None:
    """Why a click on this request changes nothing, or None when it is still open."""
    held = store_answers.standing(conn, action_key=action_key)
    if held is not None:
        state = "" if (held.get("outcome") or "").startswith("decided") else ", being applied"
        return (
            f"Already {_past(held['decision'])} by {held['person']} at "
            f"{hhmm(held['received_at'])} ({held['via']}{state}): your click changed nothing."
        )
    done = ledger.get(conn, action_key)
    if done is not None:
        who = f" by {done['approved_by']}" if done.get("approved_by") else ""
        return f"Already decided{who}: {describes} is {done['status']}. Your click changed nothing."
    if row.get("waiting_for") != "approval" or row.get("waiting_detail") != describes:
        return (
            f"{row['incident_id']} no longer waits for approval of {describes} "
            f"(it is {row['status']}): your click changed nothing."
        )
    if not row.get("thread_id"):
        return f"{row['incident_id']} has no thread to resume: nothing was decided."
    return None


def _take_control(stores: Stores, click: Click, who: Identity, at: datetime) -> Taken:
    try:
        if CONTROLS[click.action_id] == "acknowledge":
            done = controls.acknowledge(stores, click.value, who, at=at)
        else:
            done = controls.confirm_fix(stores, click.value, who, "", at=at)
    except AgentOpsError as exc:
        return Taken(ephemeral=_sentence(str(exc)))
    return Taken(ephemeral=_sentence(done.text), control=done)


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else f"{text}."


def _past(decision: str) -> str:
    return {"approve": "approved", "reject": "rejected"}.get(decision, decision)


def hhmm(value: datetime) -> str:
    return f"{value:%H:%M} UTC"
