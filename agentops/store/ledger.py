"""The action ledger: every side effect is claimed here first, keyed by
(incident, action, target), so a retry, a second resume or a crashed process re-running a
node finds the earlier result instead of acting again.

`claim` inserts a `started` row inside the caller's transaction; the primary key makes a
concurrent second claim fail. A key already `started` but never finished means a process
died mid-action: the ledger reports it and does not act twice (a person checks it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from agentops.domain import Action
from agentops.store.load import to_db_time
from agentops.store.queries import as_row
from agentops.store.state_tables import action_log


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: `fresh` means this caller must perform the action."""

    fresh: bool
    row: dict[str, Any]


def claim(
    conn: sa.Connection,
    *,
    key: str,
    incident_id: str,
    action_type: str,
    target: str,
    now: datetime,
    approved_by: str | None = None,
    approved_via: str | None = None,
    detail: str = "",
) -> Claim:
    existing = get(conn, key)
    if existing is not None:
        return Claim(fresh=False, row=existing)
    row = {
        "idempotency_key": key,
        "incident_id": incident_id,
        "action_type": action_type,
        "target": target,
        "status": "started",
        "approved_by": approved_by,
        "approved_via": approved_via,
        "detail": detail,
        "created_at": to_db_time(now, what="created_at"),
    }
    try:
        with conn.begin_nested():
            conn.execute(action_log.insert().values(**row))
    except sa.exc.IntegrityError:
        # another process claimed it between our read and our insert
        return Claim(fresh=False, row=get(conn, key) or row)
    return Claim(fresh=True, row=as_row(row))


def finish(
    conn: sa.Connection,
    *,
    key: str,
    status: str,
    now: datetime,
    result: dict[str, Any] | None = None,
    detail: str | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": to_db_time(now, what="finished_at")}
    if result is not None:
        values["result"] = json.dumps(result, default=str)
    if detail is not None:
        values["detail"] = detail
    conn.execute(action_log.update().where(action_log.c.idempotency_key == key).values(**values))


def get(conn: sa.Connection, key: str) -> dict[str, Any] | None:
    row = (
        conn.execute(sa.select(action_log).where(action_log.c.idempotency_key == key))
        .mappings()
        .first()
    )
    return as_row(row) if row is not None else None


def claim_action(
    conn: sa.Connection,
    action: Action,
    incident_id: str,
    *,
    now: datetime,
    approved_by: str | None = None,
    approved_via: str | None = None,
    detail: str = "",
) -> Claim:
    """`claim` for a planned action, under its key (incident, action, target)."""
    return claim(
        conn,
        key=action.key(incident_id),
        incident_id=incident_id,
        action_type=action.type.value,
        target=action.target,
        now=now,
        approved_by=approved_by,
        approved_via=approved_via,
        detail=detail,
    )
