"""Which incidents a scheduler pass must act on, most severe first.

- `unclaimed_incident_ids`: detected incidents no thread has started (P1 before P2 before
  P3, then oldest, ids in numeric order).
- `stranded`: incidents whose thread stopped mid-way (its worker died, was killed, or a
  thread was deleted) — no live lease, not finished, not waiting for anything: the pass
  resumes their threads from the last checkpoint.
- `waiting`: incidents whose thread waits (for an approval, recovery or a person), with what
  it waits for: the pass re-checks recovery and applies recorded answers.

Leases are on the wall clock; `wall` is the current wall time, never a replayed `--now`.
History rows loaded from a case carry no alerts and are never picked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from agentops.domain import IncidentStatus
from agentops.store.load import to_db_time
from agentops.store.queries import Row, as_row
from agentops.store.state_tables import incidents

_RESOLVED = IncidentStatus.resolved.value


def severity_first(table: sa.Table = incidents) -> list[sa.ColumnElement[Any]]:
    rank = sa.case((table.c.severity == "P1", 1), (table.c.severity == "P2", 2), else_=3)
    return [rank, table.c.opened_at, sa.func.length(table.c.incident_id), table.c.incident_id]


def _open(model_name: str | None) -> list[sa.ColumnElement[bool]]:
    conditions = [
        incidents.c.status != _RESOLVED,
        incidents.c.resolved_at.is_(None),
        incidents.c.alerts.is_not(None),
    ]
    if model_name is not None:
        conditions.append(incidents.c.model_name == model_name)
    return conditions


def unclaimed_incident_ids(conn: sa.Connection, model_name: str | None = None) -> list[str]:
    query = (
        sa.select(incidents.c.incident_id)
        .where(incidents.c.thread_id.is_(None), *_open(model_name))
        .order_by(*severity_first())
    )
    return list(conn.execute(query).scalars())


def _lease_free(wall: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        incidents.c.lease_owner.is_(None), incidents.c.lease_until < to_db_time(wall, what="wall")
    )


def stranded(conn: sa.Connection, wall: datetime, model_name: str | None = None) -> list[Row]:
    query = (
        sa.select(incidents)
        .where(
            incidents.c.thread_id.is_not(None),
            incidents.c.waiting_for.is_(None),
            _lease_free(wall),
            *_open(model_name),
        )
        .order_by(*severity_first())
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def waiting(
    conn: sa.Connection, wall: datetime | None = None, model_name: str | None = None
) -> list[Row]:
    """Incidents whose thread waits; with `wall`, only those no live worker holds."""
    query = sa.select(incidents).where(
        incidents.c.thread_id.is_not(None), incidents.c.waiting_for.is_not(None), *_open(model_name)
    )
    if wall is not None:
        query = query.where(_lease_free(wall))
    return [as_row(r) for r in conn.execute(query.order_by(*severity_first())).mappings()]
