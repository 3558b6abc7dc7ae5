"""What every action needs (store, settings, policy, senders, `now`, the caller's context),
the ledger replay, and the transactional outbox step shared by every messaging action."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any, get_args

import sqlalchemy as sa

from agentops.actions.clients import Senders, build_senders
from agentops.actions.deliver import deliver_pending
from agentops.actions.outbox import OutgoingMessage, append_outbox_file, enqueue, get_message
from agentops.actions.policy import Policy, load_policy
from agentops.domain import Action, ActionResult, ActionStatus, Diagnosis, Incident
from agentops.settings import Settings
from agentops.store import Stores, ledger


class Runtime:
    """What every action needs besides the incident: the two databases, settings, policy,
    senders. The ledger and the outbox live in `state`; registry rows and metrics in
    `monitoring`."""

    def __init__(
        self,
        stores: Stores,
        settings: Settings,
        *,
        now: datetime,
        senders: Senders | None = None,
        policy: Policy | None = None,
        context: dict[str, Any] | None = None,
        approved_via: str | None = None,
    ) -> None:
        self.stores = stores
        self.approved_via = approved_via
        self.settings = settings
        self.now = now
        self.senders = senders if senders is not None else build_senders(settings)
        self.policy = policy if policy is not None else load_policy(settings)
        self.context = context or {}

    @property
    def state(self) -> sa.Engine:
        return self.stores.state

    @property
    def monitoring(self) -> sa.Engine:
        return self.stores.monitoring

    @property
    def diagnosis(self) -> Diagnosis | None:
        value = self.context.get("diagnosis")
        if value is None or isinstance(value, Diagnosis):
            return value
        return Diagnosis.model_validate(value)


# ---- ledger helpers ----------------------------------------------------------------------------
def replay(row: dict[str, Any], action: Action, key: str) -> ActionResult:
    """The ledger's earlier result; a claim never finished is reported in doubt."""
    if row["status"] != "started" and not row.get("result"):
        # an entry written by someone else (e.g. the graph recording a rejected approval)
        status = row["status"] if row["status"] in get_args(ActionStatus) else "skipped"
        return ActionResult(
            action=action,
            status=status,
            detail=row.get("detail") or "",
            approved_by=row.get("approved_by"),
            idempotency_key=key,
            replayed=True,
        )
    if row["status"] == "started":
        return ActionResult(
            action=action,
            status="failed",
            detail=(
                f"in doubt: claimed at {row['created_at']} but never finished (a process "
                "stopped mid-action); check it by hand before acting again"
            ),
            approved_by=row.get("approved_by"),
            idempotency_key=key,
            replayed=True,
        )
    stored = json.loads(row["result"])
    fields = {k: v for k, v in stored.items() if k in ActionResult.model_fields}
    return ActionResult.model_validate({**fields, "replayed": True})


def _in_storm(message: OutgoingMessage, parent_id: str) -> OutgoingMessage:
    if message.channel != "slack" or "thread_incident" in message.meta:
        return message
    return replace(message, meta={**message.meta, "thread_incident": parent_id})


def send_messages(
    rt: Runtime,
    incident: Incident,
    action: Action,
    key: str,
    outgoing: list[OutgoingMessage],
    *,
    approved_by: str | None = None,
    note: str = "",
) -> ActionResult:
    """Claim `key`, enqueue `outgoing` and finish the entry in one transaction; then deliver."""
    with rt.state.begin() as conn:
        claim = ledger.claim(
            conn,
            key=key,
            incident_id=incident.incident_id,
            action_type=action.type.value,
            target=action.target,
            now=rt.now,
            approved_by=approved_by,
        )
        if not claim.fresh:
            return replay(claim.row, action, key)
        if incident.parent_id:  # a storm's incidents post in the storm's threads
            outgoing = [_in_storm(m, incident.parent_id) for m in outgoing]
        rows = [
            enqueue(conn, m, now=rt.now, configured=rt.senders.configured(m.channel))
            for m in outgoing
        ]
        queued = [r["message_id"] for r in rows if r["status"] == "queued"]
        where = "; ".join(f"{r['channel']} → {r['target']} ({r['status']})" for r in rows)
        detail = "; ".join(p for p in (where or "nothing to send", note) if p)
        result = ActionResult(
            action=action,
            status="queued" if queued else "succeeded",
            detail=detail,
            approved_by=approved_by,
            executed_at=rt.now,
            idempotency_key=key,
        )
        ledger.finish(
            conn,
            key=key,
            status=result.status,
            now=rt.now,
            result=result.model_dump(mode="json"),
            detail=detail,
        )
    append_outbox_file(rt.settings.outbox_dir, [r for r in rows if r["status"] == "outbox"])
    if not queued:
        return result
    report = deliver_pending(rt.state, rt.settings, now=rt.now, senders=rt.senders, only=queued)
    with rt.state.connect() as conn:
        entry = ledger.get(conn, key)
        errors = [
            f"{m['channel']} → {m['target']}: {m['last_error']}"
            for m in (get_message(conn, i) for i in queued)
            if m is not None and m["status"] != "sent" and m.get("last_error")
        ]
    delivered = replay(entry, action, key) if entry else result
    delivered = delivered.model_copy(update={"replayed": False})
    if errors or report.waiting:
        why = "; ".join(errors) or "waiting for the incident's first message to be sent"
        delivered = delivered.model_copy(update={"detail": f"{detail}; will retry: {why}"})
    return delivered
