"""Writes to INCIDENTS: open, update, resolve. Reads live in `store.queries`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from agentops.domain import Incident, TimelineEntry
from agentops.store.load import to_db_time
from agentops.store.tables import incidents


def next_incident_id(conn: sa.Connection, opened_at: datetime) -> str:
    """INC-YYYY-MMDD-N: N counts the incidents already opened that day, from 1."""
    prefix = opened_at.strftime("INC-%Y-%m%d-")
    taken = conn.execute(
        sa.select(incidents.c.incident_id).where(incidents.c.incident_id.like(f"{prefix}%"))
    ).scalars()
    numbers = [int(i.rsplit("-", 1)[1]) for i in taken if i.rsplit("-", 1)[1].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


def insert_incident(
    conn: sa.Connection, incident: Incident, *, thread_id: str | None = None
) -> None:
    conn.execute(incidents.insert().values(**_columns(incident), thread_id=thread_id))


def save_incident(conn: sa.Connection, incident: Incident) -> None:
    """Write every field of `incident` over its row."""
    conn.execute(
        incidents.update()
        .where(incidents.c.incident_id == incident.incident_id)
        .values(**_columns(incident))
    )


def set_incident_fields(conn: sa.Connection, incident_id: str, **fields: Any) -> None:
    """Update named columns; datetimes are stored as naive UTC, lists/dicts as JSON."""
    values: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, datetime):
            value = to_db_time(value, what=key)
        elif isinstance(value, (list, dict)):
            value = json.dumps(value, default=str)
        values[key] = value
    conn.execute(incidents.update().where(incidents.c.incident_id == incident_id).values(**values))


def set_timeline(conn: sa.Connection, incident_id: str, timeline: list[TimelineEntry]) -> None:
    conn.execute(
        incidents.update()
        .where(incidents.c.incident_id == incident_id)
        .values(timeline=json.dumps([t.model_dump(mode="json") for t in timeline]))
    )


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


def claim_incident(conn: sa.Connection, incident_id: str, thread_id: str) -> bool:
    """Give an incident to one graph thread. True when this thread got it: a conditional
    UPDATE, so two watchers racing for the same incident cannot both handle it. Claiming
    again from the same thread (a re-run node) succeeds."""
    result = conn.execute(
        incidents.update()
        .where(
            incidents.c.incident_id == incident_id,
            sa.or_(incidents.c.thread_id.is_(None), incidents.c.thread_id == thread_id),
        )
        .values(thread_id=thread_id)
    )
    return result.rowcount == 1


def unclaimed_incident_ids(
    conn: sa.Connection, model_name: str | None = None, thread_id: str | None = None
) -> list[str]:
    """Open incidents detection opened (they carry alerts) that no thread handles yet (or
    `thread_id` does), oldest first. History rows loaded from a case have no alerts and are
    never picked."""
    query = sa.select(incidents.c.incident_id).where(
        sa.or_(incidents.c.thread_id.is_(None), incidents.c.thread_id == thread_id),
        incidents.c.resolved_at.is_(None),
        incidents.c.status != "resolved",
        incidents.c.alerts.is_not(None),
    )
    if model_name is not None:
        query = query.where(incidents.c.model_name == model_name)
    return list(
        conn.execute(query.order_by(incidents.c.opened_at, incidents.c.incident_id)).scalars()
    )
