"""Read queries over the store. Each takes a connection and plain arguments and returns
rows as dicts with aware UTC datetimes. Filtering, ordering and limits happen in SQL, so the
same calls stay cheap on a warehouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from agentops.domain import Alert, Incident, IncidentStatus, TimelineEntry
from agentops.errors import DataError
from agentops.store import state_tables as state
from agentops.store.tables import (
    data_quality,
    deployments,
    feature_drift,
    incidents,
    model_metrics,
    model_registry,
    pipeline_runs,
)

Row = dict[str, Any]


def as_row(mapping: Any) -> Row:
    """A result row as a dict; naive datetimes from the database become aware UTC."""
    out: Row = {}
    for key, value in dict(mapping).items():
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        out[str(key).lower()] = value
    return out


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def model_names(conn: sa.Connection) -> list[str]:
    """Every model with metrics, sorted."""
    query = sa.select(model_metrics.c.model_name).distinct().order_by(model_metrics.c.model_name)
    return [row[0] for row in conn.execute(query)]


def require_model(conn: sa.Connection, model_name: str) -> None:
    """DataError when the store has never seen `model_name`."""
    found = conn.execute(
        sa.select(model_metrics.c.model_name)
        .where(model_metrics.c.model_name == model_name)
        .limit(1)
    ).first()
    if found is None:
        known = ", ".join(model_names(conn)) or "none"
        raise DataError(f"unknown model {model_name!r} in MODEL_METRICS (known: {known})")


def latest_complete_windows(
    conn: sa.Connection, now: datetime, model_name: str | None = None
) -> list[Row]:
    """For each model, its newest MODEL_METRICS row whose window has ended by `now`.

    One query whatever the number of models: a grouped max joined back to the table.
    """
    latest = sa.select(
        model_metrics.c.model_name, sa.func.max(model_metrics.c.window_end).label("window_end")
    ).where(model_metrics.c.window_end <= _naive(now))
    if model_name is not None:
        latest = latest.where(model_metrics.c.model_name == model_name)
    latest_sq = latest.group_by(model_metrics.c.model_name).subquery()
    query = (
        sa.select(model_metrics)
        .join(
            latest_sq,
            sa.and_(
                model_metrics.c.model_name == latest_sq.c.model_name,
                model_metrics.c.window_end == latest_sq.c.window_end,
            ),
        )
        .order_by(model_metrics.c.model_name)
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def metrics_history(
    conn: sa.Connection, model_name: str, start: datetime, end: datetime
) -> list[Row]:
    """MODEL_METRICS rows of one model with window_start in [start, end), oldest first."""
    query = (
        sa.select(model_metrics)
        .where(
            model_metrics.c.model_name == model_name,
            model_metrics.c.window_start >= _naive(start),
            model_metrics.c.window_start < _naive(end),
        )
        .order_by(model_metrics.c.window_start)
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def _latest_window_end(conn: sa.Connection, table: sa.Table, model_name: str, now: datetime) -> Any:
    return conn.execute(
        sa.select(sa.func.max(table.c.window_end)).where(
            table.c.model_name == model_name, table.c.window_end <= _naive(now)
        )
    ).scalar()


def top_drifted_features(
    conn: sa.Connection, model_name: str, now: datetime, limit: int = 10
) -> list[Row]:
    """The latest complete FEATURE_DRIFT window of a model, highest PSI first."""
    window_end = _latest_window_end(conn, feature_drift, model_name, now)
    if window_end is None:
        return []
    query = (
        sa.select(feature_drift)
        .where(
            feature_drift.c.model_name == model_name,
            feature_drift.c.window_end == window_end,
            feature_drift.c.psi.is_not(None),
        )
        .order_by(feature_drift.c.psi.desc(), feature_drift.c.feature_name)
        .limit(limit)
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def drift_history(
    conn: sa.Connection, model_name: str, features: list[str], start: datetime, end: datetime
) -> list[Row]:
    """FEATURE_DRIFT rows of the named features with window_start in [start, end)."""
    return _feature_history(conn, feature_drift, model_name, features, start, end)


def quality_history(
    conn: sa.Connection, model_name: str, features: list[str], start: datetime, end: datetime
) -> list[Row]:
    """DATA_QUALITY rows of the named features with window_start in [start, end)."""
    return _feature_history(conn, data_quality, model_name, features, start, end)


def _feature_history(
    conn: sa.Connection,
    table: sa.Table,
    model_name: str,
    features: list[str],
    start: datetime,
    end: datetime,
) -> list[Row]:
    query = (
        sa.select(table)
        .where(
            table.c.model_name == model_name,
            table.c.feature_name.in_(features),
            table.c.window_start >= _naive(start),
            table.c.window_start < _naive(end),
        )
        .order_by(table.c.feature_name, table.c.window_start)
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def category_seen_before(conn: sa.Connection, category: str, *, excluding: str) -> bool:
    """Whether any other incident in the monitoring database's INCIDENTS (history and the
    copies agentops writes there) was already given this root-cause category."""
    query = (
        sa.select(incidents.c.incident_id)
        .where(incidents.c.root_cause_category == category, incidents.c.incident_id != excluding)
        .limit(1)
    )
    return conn.execute(query).first() is not None


def data_quality_latest(
    conn: sa.Connection, model_name: str, now: datetime, feature: str | None = None
) -> list[Row]:
    """DATA_QUALITY per feature in the latest complete window, worst null rate first."""
    window_end = _latest_window_end(conn, data_quality, model_name, now)
    if window_end is None:
        return []
    query = sa.select(data_quality).where(
        data_quality.c.model_name == model_name, data_quality.c.window_end == window_end
    )
    if feature is not None:
        query = query.where(data_quality.c.feature_name == feature)
    query = query.order_by(
        sa.func.coalesce(data_quality.c.null_rate, 0).desc(), data_quality.c.feature_name
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def deployments_between(
    conn: sa.Connection, model_name: str, start: datetime, end: datetime
) -> list[Row]:
    """DEPLOYMENTS of a model with deployed_at in [start, end], newest first."""
    query = (
        sa.select(deployments)
        .where(
            deployments.c.model_name == model_name,
            deployments.c.deployed_at >= _naive(start),
            deployments.c.deployed_at <= _naive(end),
        )
        .order_by(deployments.c.deployed_at.desc())
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def pipeline_runs_between(
    conn: sa.Connection, model_name: str, start: datetime, end: datetime
) -> list[Row]:
    """PIPELINE_RUNS feeding a model (or all models: NULL model_name) started in [start, end]."""
    query = (
        sa.select(pipeline_runs)
        .where(
            sa.or_(pipeline_runs.c.model_name == model_name, pipeline_runs.c.model_name.is_(None)),
            pipeline_runs.c.started_at >= _naive(start),
            pipeline_runs.c.started_at <= _naive(end),
        )
        .order_by(pipeline_runs.c.started_at.desc())
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def registry(conn: sa.Connection, model_name: str) -> list[Row]:
    """MODEL_REGISTRY rows of a model, newest promotion first."""
    query = (
        sa.select(model_registry)
        .where(model_registry.c.model_name == model_name)
        .order_by(model_registry.c.promoted_at.desc())
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


# ---- incidents, ledger and outbox in the state store -----------------------------------------
def incident_order(table: sa.Table = state.incidents) -> list[sa.ColumnElement[Any]]:
    """Oldest first, ids in numeric order (INC-…-2 before INC-…-10: equal-length prefixes)."""
    return [
        table.c.opened_at,
        sa.func.length(table.c.incident_id),
        table.c.incident_id,
    ]


def list_incidents(
    conn: sa.Connection,
    *,
    model_name: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Row]:
    """Incidents agentops handles, newest first."""
    table = state.incidents
    query = sa.select(table)
    if model_name is not None:
        query = query.where(table.c.model_name == model_name)
    if status is not None:
        query = query.where(table.c.status == status)
    query = query.order_by(*(column.desc() for column in incident_order())).limit(limit)
    return [as_row(r) for r in conn.execute(query).mappings()]


def history_incidents(
    conn: sa.Connection,
    *,
    model_name: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Row]:
    """Rows of the monitoring database's INCIDENTS (history and agentops's copies), newest
    first; a row with resolved_at and no status reads as resolved."""
    query = sa.select(incidents)
    if model_name is not None:
        query = query.where(incidents.c.model_name == model_name)
    if status is not None:
        query = query.where(incidents.c.status == status)
    query = query.order_by(*(column.desc() for column in incident_order(incidents))).limit(limit)
    return [as_row(r) for r in conn.execute(query).mappings()]


def history_incident_row(conn: sa.Connection, incident_id: str) -> Row | None:
    row = (
        conn.execute(sa.select(incidents).where(incidents.c.incident_id == incident_id))
        .mappings()
        .first()
    )
    return as_row(row) if row is not None else None


def get_incident_row(conn: sa.Connection, incident_id: str) -> Row | None:
    row = (
        conn.execute(sa.select(state.incidents).where(state.incidents.c.incident_id == incident_id))
        .mappings()
        .first()
    )
    return as_row(row) if row is not None else None


def incident_from_row(row: Row) -> Incident:
    """An `Incident` from an INCIDENTS row (history rows may lack agentops's own columns)."""
    alerts = [Alert.model_validate(a) for a in json.loads(row.get("alerts") or "[]")]
    return Incident(
        incident_id=row["incident_id"],
        model_name=row["model_name"],
        severity=row["severity"],
        alert_types=[t for t in (row.get("alert_types") or "").split(",") if t],
        alerts=alerts,
        status=row.get("status") or (IncidentStatus.resolved if row.get("resolved_at") else "open"),
        opened_at=row["opened_at"],
        resolved_at=row.get("resolved_at"),
        root_cause_category=row.get("root_cause_category"),
        root_cause=row.get("root_cause"),
        resolution=row.get("resolution"),
        postmortem=row.get("postmortem"),
        parent_id=row.get("parent_id"),
    )


def incident_timeline(row: Row) -> list[TimelineEntry]:
    return [TimelineEntry.model_validate(t) for t in json.loads(row.get("timeline") or "[]")]


def action_log_for(conn: sa.Connection, incident_id: str) -> list[Row]:
    log = state.action_log
    query = (
        sa.select(log)
        .where(log.c.incident_id == incident_id)
        .order_by(log.c.created_at, log.c.idempotency_key)
    )
    return [as_row(r) for r in conn.execute(query).mappings()]


def messages_for(conn: sa.Connection, incident_id: str | None = None) -> list[Row]:
    table = state.messages
    query = sa.select(table)
    if incident_id is not None:
        query = query.where(table.c.incident_id == incident_id)
    query = query.order_by(table.c.created_at, table.c.seq, table.c.message_id)
    return [as_row(r) for r in conn.execute(query).mappings()]
