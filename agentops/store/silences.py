"""Silences, maintenance windows and retired models: pages stopped on purpose, by a person,
with a reason, and listed. A silence ends by itself at `until`; a retired model stays quiet
until it is brought back. Detection drops the alerts they cover and says how many."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from agentops.errors import DataError
from agentops.store.load import to_db_time
from agentops.store.queries import Row, as_row
from agentops.store.state_tables import silences


def add(
    conn: sa.Connection,
    *,
    model_name: str,
    kind: str,
    reason: str,
    created_by: str,
    now: datetime,
    until: datetime | None = None,
    alert_type: str | None = None,
) -> str:
    if not reason.strip():
        raise DataError("--reason: say why (it is shown to whoever wonders why nothing paged)")
    if kind == "silence" and (until is None or until <= now):
        raise DataError("--until: a silence must end in the future (retire a model instead)")
    silence_id = f"SIL-{uuid.uuid4().hex[:8]}"
    conn.execute(
        silences.insert().values(
            silence_id=silence_id,
            model_name=model_name,
            alert_type=alert_type,
            kind=kind,
            starts_at=to_db_time(now, what="now"),
            until=to_db_time(until, what="until") if until else None,
            reason=reason.strip(),
            created_by=created_by,
            created_at=to_db_time(now, what="now"),
        )
    )
    return silence_id


def lift(conn: sa.Connection, silence_id: str, *, now: datetime) -> bool:
    done = conn.execute(
        silences.update()
        .where(silences.c.silence_id == silence_id, silences.c.lifted_at.is_(None))
        .values(lifted_at=to_db_time(now, what="now"))
    )
    return done.rowcount == 1


def lift_retirement(conn: sa.Connection, model_name: str, *, now: datetime) -> int:
    done = conn.execute(
        silences.update()
        .where(
            silences.c.model_name == model_name,
            silences.c.kind == "retired",
            silences.c.lifted_at.is_(None),
        )
        .values(lifted_at=to_db_time(now, what="now"))
    )
    return int(done.rowcount)


def active(conn: sa.Connection, now: datetime) -> list[Row]:
    """Silences in force at `now`: started, not lifted, not expired (retirements never do)."""
    at = to_db_time(now, what="now")
    query = sa.select(silences).where(
        silences.c.lifted_at.is_(None),
        silences.c.starts_at <= at,
        sa.or_(silences.c.until.is_(None), silences.c.until > at),
    )
    return [as_row(r) for r in conn.execute(query.order_by(silences.c.created_at)).mappings()]


def listed(conn: sa.Connection, limit: int = 100) -> list[Row]:
    query = sa.select(silences).order_by(silences.c.created_at.desc()).limit(limit)
    return [as_row(r) for r in conn.execute(query).mappings()]


def covers(row: Row, model_name: str, alert_type: str) -> bool:
    return bool(
        row["model_name"] == model_name
        and (row.get("alert_type") is None or row["alert_type"] == alert_type)
    )
