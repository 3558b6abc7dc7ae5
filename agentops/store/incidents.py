"""Incidents in the state store: open, update, claim with a lease, and the copy of each
incident's contract columns in the monitoring database's INCIDENTS (`mirror`).

Claims are leases on the wall clock. The worker running an incident's thread holds
`lease_owner` until `lease_until` and renews it while it works; a worker that dies stops
renewing, and the next pass takes the incident over and resumes its thread from the
checkpoint. Reads live in `store.queries`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from agentops.domain import Incident, IncidentStatus, TimelineEntry
from agentops.store import state_tables as state
from agentops.store.engine import db_error_text
from agentops.store.load import to_db_time
from agentops.store.tables import incidents as monitoring_incidents

THREAD_NAMESPACE = uuid.UUID("6f1c2d7e-0d5b-4c52-9a3e-7a0e1f3b9c41")
FINISHED = (IncidentStatus.resolved.value,)


def thread_for(incident_id: str, generation: int = 0) -> str:
    """The LangGraph thread of an incident: derived from its id, so any process (or the
    server) finds it without a lookup; a reopened incident starts a new generation."""
    return str(uuid.uuid5(THREAD_NAMESPACE, f"{incident_id}#{generation}"))


def _number(incident_id: str) -> int:
    tail = incident_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def next_incident_id(conn: sa.Connection, opened_at: datetime, *, taken: set[str]) -> str:
    """INC-YYYY-MMDD-N, N one past the largest of that day in the state store and in
    `taken` (ids the monitoring INCIDENTS already holds, and this pass's). Call inside a
    serialized transaction (`store.locks.serialize`) so two workers never pick the same N."""
    prefix = opened_at.strftime("INC-%Y-%m%d-")
    table = state.incidents
    ours = conn.execute(
        sa.select(table.c.incident_id).where(table.c.incident_id.like(f"{prefix}%"))
    ).scalars()
    numbers = [_number(i) for i in ours] + [_number(i) for i in taken if i.startswith(prefix)]
    return f"{prefix}{max(numbers, default=0) + 1}"


def monitoring_ids(conn: sa.Connection, opened_at: datetime) -> set[str]:
    """Ids of that day already in the monitoring INCIDENTS (history loaded by a team)."""
    prefix = opened_at.strftime("INC-%Y-%m%d-")
    t = monitoring_incidents
    return set(
        conn.execute(sa.select(t.c.incident_id).where(t.c.incident_id.like(f"{prefix}%"))).scalars()
    )


def insert_incident(conn: sa.Connection, incident: Incident, **extra: Any) -> None:
    conn.execute(state.incidents.insert().values(**_columns(incident), **_encode(extra)))


def save_incident(conn: sa.Connection, incident: Incident) -> None:
    """Write every field of `incident` over its row."""
    conn.execute(
        state.incidents.update()
        .where(state.incidents.c.incident_id == incident.incident_id)
        .values(**_columns(incident))
    )


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, datetime):
            value = to_db_time(value, what=key)
        elif isinstance(value, (list, dict)):
            value = json.dumps(value, default=str)
        values[key] = value
    return values


def set_incident_fields(conn: sa.Connection, incident_id: str, **fields: Any) -> None:
    """Update named columns; datetimes are stored as naive UTC, lists/dicts as JSON."""
    table = state.incidents
    conn.execute(table.update().where(table.c.incident_id == incident_id).values(**_encode(fields)))


def set_status(conn: sa.Connection, incident_id: str, status: IncidentStatus) -> bool:
    """Move an open incident to `status`. A resolved incident stays resolved (a stale thread
    or a fork cannot reopen it: `reopen` is a person's explicit act). True if it changed."""
    table = state.incidents
    result = conn.execute(
        table.update()
        .where(table.c.incident_id == incident_id, table.c.status.not_in(FINISHED))
        .values(status=status.value)
    )
    return result.rowcount == 1


def set_timeline(conn: sa.Connection, incident_id: str, timeline: list[TimelineEntry]) -> None:
    table = state.incidents
    conn.execute(
        table.update()
        .where(table.c.incident_id == incident_id)
        .values(timeline=json.dumps([t.model_dump(mode="json") for t in timeline]))
    )


def add_timeline(conn: sa.Connection, incident_id: str, entries: list[TimelineEntry]) -> None:
    """Append entries the row does not hold yet (same phase and note: already there)."""
    table = state.incidents
    # FOR UPDATE on PostgreSQL: two writers appending at once must not lose an entry
    query = sa.select(table.c.timeline).where(table.c.incident_id == incident_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    raw = conn.execute(query).scalar()
    held = [TimelineEntry.model_validate(t) for t in json.loads(raw or "[]")]
    seen = {(t.phase, t.note) for t in held}
    fresh = [e for e in entries if (e.phase, e.note) not in seen]
    if fresh:
        set_timeline(conn, incident_id, [*held, *fresh])


def _columns(incident: Incident) -> dict[str, Any]:
    return {
        "incident_id": incident.incident_id,
        "model_name": incident.model_name,
        "severity": incident.severity.value,
        "alert_types": ",".join(t.value for t in incident.alert_types),
        "root_cause_category": (
            incident.root_cause_category.value if incident.root_cause_category else None
        ),
        "root_cause": incident.root_cause,
        "resolution": incident.resolution,
        "opened_at": to_db_time(incident.opened_at, what="opened_at"),
        "resolved_at": (
            to_db_time(incident.resolved_at, what="resolved_at") if incident.resolved_at else None
        ),
        "postmortem": incident.postmortem,
        "status": incident.status.value,
        "fingerprints": json.dumps(sorted(incident.fingerprints)),
        "alerts": json.dumps([a.model_dump(mode="json") for a in incident.alerts]),
        "updated_at": to_db_time(incident.resolved_at or incident.opened_at, what="updated_at"),
    }


# ---- the copy in the monitoring database ----------------------------------------------------
CONTRACT_COLUMNS = (
    "incident_id",
    "model_name",
    "severity",
    "alert_types",
    "root_cause_category",
    "root_cause",
    "resolution",
    "opened_at",
    "resolved_at",
    "postmortem",
    "status",
)


def mirror(monitoring: sa.Engine, state_engine: sa.Engine, incident_id: str) -> str | None:
    """Copy the incident's contract columns into the monitoring INCIDENTS (the seed's "Log
    in INCIDENTS"). Returns None, or why it failed: the lifecycle goes on without the copy,
    and the next mirror of the incident writes it whole."""
    table = state.incidents
    with state_engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(*(table.c[name] for name in CONTRACT_COLUMNS)).where(
                    table.c.incident_id == incident_id
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        return f"no incident {incident_id} in the state store"
    values = dict(row)
    target = monitoring_incidents
    try:
        with monitoring.begin() as conn:
            done = conn.execute(
                target.update()
                .where(target.c.incident_id == incident_id)
                .values(**{k: v for k, v in values.items() if k != "incident_id"})
            )
            if done.rowcount == 0:
                conn.execute(target.insert().values(**values))
    except sa.exc.SQLAlchemyError as exc:
        return f"INCIDENTS copy in the monitoring database not written: {db_error_text(exc)}"
    return None


# ---- claims and leases ----------------------------------------------------------------------
def claim_incident(
    conn: sa.Connection,
    incident_id: str,
    thread_id: str,
    *,
    owner: str | None = None,
    until: datetime | None = None,
    wall: datetime | None = None,
) -> bool:
    """Give an incident to one graph thread (and, with `owner`, lease it to one worker
    until `until`). True when this caller got it: a conditional UPDATE, so two workers
    racing for the same incident cannot both handle it. Claiming again with the same thread
    and owner (a re-run node, a renewal) succeeds; another owner succeeds only once the
    lease expired at `wall` (the wall clock)."""
    table = state.incidents
    free_thread = sa.or_(table.c.thread_id.is_(None), table.c.thread_id == thread_id)
    values: dict[str, Any] = {"thread_id": thread_id}
    conditions = [table.c.incident_id == incident_id, free_thread]
    if owner is not None:
        assert until is not None and wall is not None, "a lease needs its end and the wall clock"
        conditions.append(
            sa.or_(
                table.c.lease_owner.is_(None),
                table.c.lease_owner == owner,
                table.c.lease_until < to_db_time(wall, what="wall"),
            )
        )
        values |= {"lease_owner": owner, "lease_until": to_db_time(until, what="lease_until")}
    result = conn.execute(table.update().where(*conditions).values(**values))
    return result.rowcount == 1


def renew_leases(conn: sa.Connection, owner: str, until: datetime) -> int:
    table = state.incidents
    result = conn.execute(
        table.update()
        .where(table.c.lease_owner == owner)
        .values(lease_until=to_db_time(until, what="lease_until"))
    )
    return int(result.rowcount)


def release_lease(conn: sa.Connection, incident_id: str, owner: str) -> None:
    table = state.incidents
    conn.execute(
        table.update()
        .where(table.c.incident_id == incident_id, table.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def lease_expiry(wall: datetime, seconds: float) -> datetime:
    return wall + timedelta(seconds=seconds)


def release_all(conn: sa.Connection, owner: str) -> None:
    table = state.incidents
    conn.execute(
        table.update()
        .where(table.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
