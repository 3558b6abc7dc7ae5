"""The detection scan as SQL: three queries per pass whatever the number of models, features
or days of history.

Each query reads only each model's latest complete window (window_end <= now) of one table,
within a lookback horizon, so its cost follows the number of models and not the length of
history:

- On SQLite, a recursive "skip scan" walks the distinct model names through the
  (model_name, window_end) index, and each model's latest window is one index seek.
- On a warehouse (Snowflake; DuckDB under fakesnow) the time-range predicate lets the engine
  prune partitions / row groups, and a grouped MAX finds each model's latest window.

Value thresholds are applied in SQL as a prefilter with the loosest threshold in use, so only
candidate rows come back; `rules` then decides each alert exactly in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from agentops.detection.thresholds import ThresholdSet
from agentops.store.load import to_db_time
from agentops.store.queries import Row
from agentops.store.tables import data_quality, feature_drift, model_metrics


def _model_scope(table: sa.Table, dialect: str, model_name: str | None) -> sa.FromClause | None:
    """The distinct model names of `table`, as a FROM clause to drive index seeks on SQLite;
    None elsewhere (the warehouse scans the pruned range directly)."""
    if dialect != "sqlite" or model_name is not None:
        return None
    inner = table.alias("skip")
    models = sa.select(sa.func.min(table.c.model_name).label("name")).cte(
        f"{table.name}_models", recursive=True
    )
    following = (
        sa.select(sa.func.min(inner.c.model_name))
        .where(inner.c.model_name > models.c.name)
        .scalar_subquery()
    )
    models = models.union_all(sa.select(following).where(models.c.name.is_not(None)))
    return models


def _in_range(
    table: sa.Table | sa.FromClause, now: datetime, horizon: datetime
) -> list[sa.ColumnElement[bool]]:
    return [table.c.window_end <= now, table.c.window_end > horizon]


def latest_window_query(
    table: sa.Table,
    *,
    now: datetime,
    horizon: datetime,
    dialect: str,
    model_name: str | None = None,
    where: sa.ColumnElement[bool] | None = None,
) -> sa.Select[Any]:
    """Every row of `table` in each model's latest window ending in (horizon, now]."""
    models = _model_scope(table, dialect, model_name)
    probe = table.alias("probe")
    if models is not None:
        seek = (
            sa.select(sa.func.max(probe.c.window_end))
            .where(probe.c.model_name == models.c.name, *_in_range(probe, now, horizon))
            .scalar_subquery()
        )
        latest = (
            sa.select(models.c.name.label("model_name"), seek.label("latest_end"))
            .where(models.c.name.is_not(None))
            .subquery("latest")
        )
    else:
        grouped = sa.select(
            probe.c.model_name, sa.func.max(probe.c.window_end).label("latest_end")
        ).where(*_in_range(probe, now, horizon))
        if model_name is not None:
            grouped = grouped.where(probe.c.model_name == model_name)
        latest = grouped.group_by(probe.c.model_name).subquery("latest")
    query = (
        sa.select(table)
        .select_from(latest)
        .join(
            table,
            sa.and_(
                table.c.model_name == latest.c.model_name,
                table.c.window_end == latest.c.latest_end,
            ),
        )
    )
    if models is None:
        # lets a warehouse prune partitions by time; on SQLite it would turn the
        # equality seek on the latest window into a range scan
        query = query.where(*_in_range(table, now, horizon))
    if where is not None:
        query = query.where(where)
    return query


def recent_metrics_query(
    *,
    now: datetime,
    horizon: datetime,
    dialect: str,
    windows: int,
    model_name: str | None = None,
) -> sa.Select[Any]:
    """Each model's newest `windows` MODEL_METRICS rows ending in (horizon, now], newest
    first (`rn` 1 is the latest window): the latest values plus the trailing history that
    the P3 latency rule takes a median over."""
    t = model_metrics
    models = _model_scope(t, dialect, model_name)
    rank = (
        sa.func.row_number()
        .over(
            partition_by=t.c.model_name, order_by=(t.c.window_end.desc(), t.c.window_start.desc())
        )
        .label("rn")
    )
    if models is None:
        inner = sa.select(t, rank).where(*_in_range(t, now, horizon))
    else:
        # per model, the end of its `windows`-th newest window, computed once per model
        # (a materialized CTE) so the index range scan starts there
        probe = t.alias("probe")
        nth = (
            sa.select(probe.c.window_end)
            .where(probe.c.model_name == models.c.name, *_in_range(probe, now, horizon))
            .order_by(probe.c.window_end.desc())
            .limit(1)
            .offset(windows - 1)
            .scalar_subquery()
        )
        floors = (
            sa.select(models.c.name, sa.func.coalesce(nth, horizon).label("floor"))
            .where(models.c.name.is_not(None))
            .cte("floors")
            .prefix_with("MATERIALIZED")
        )
        # rows at the horizon itself are dropped in `rules` (it filters by each lookback)
        inner = (
            sa.select(t, rank)
            .select_from(floors)
            .join(t, sa.and_(t.c.model_name == floors.c.name, t.c.window_end >= floors.c.floor))
            .where(t.c.window_end <= now)
        )
    if model_name is not None:
        inner = inner.where(t.c.model_name == model_name)
    ranked = inner.subquery("ranked")
    return (
        sa.select(ranked).where(ranked.c.rn <= windows).order_by(ranked.c.model_name, ranked.c.rn)
    )


def scan_queries(
    dialect: str, now: datetime, thresholds: ThresholdSet, model_name: str | None = None
) -> dict[str, sa.Select[Any]]:
    """The pass's three queries, by table name (exposed so tests can compile them for any
    dialect, e.g. Snowflake's)."""
    every = thresholds.all()
    at = to_db_time(now, what="now")
    horizon = at - timedelta(hours=max(t.lookback_hours for t in every))
    windows = 1 + max(t.latency_history_windows for t in every)
    loosest_psi = min(t.psi_p3 for t in every)
    loosest_null = min(t.null_rate_p2 for t in every)
    return {
        "model_metrics": recent_metrics_query(
            now=at, horizon=horizon, dialect=dialect, windows=windows, model_name=model_name
        ),
        "data_quality": latest_window_query(
            data_quality,
            now=at,
            horizon=horizon,
            dialect=dialect,
            model_name=model_name,
            where=data_quality.c.null_rate > loosest_null,
        ),
        "feature_drift": latest_window_query(
            feature_drift,
            now=at,
            horizon=horizon,
            dialect=dialect,
            model_name=model_name,
            where=feature_drift.c.psi >= loosest_psi,
        ),
    }


def latest_ends_query(dialect: str, now: datetime, model_name: str | None = None) -> sa.Select[Any]:
    """Each model's newest complete MODEL_METRICS window end, however old: what the
    `no_data` rule reads (the scan's lookback horizon would hide a model that went silent)."""
    t = model_metrics
    at = to_db_time(now, what="now")
    models = _model_scope(t, dialect, model_name)
    if models is not None:
        probe = t.alias("probe")
        newest = (
            sa.select(sa.func.max(probe.c.window_end))
            .where(probe.c.model_name == models.c.name, probe.c.window_end <= at)
            .scalar_subquery()
        )
        return sa.select(models.c.name.label("model_name"), newest.label("latest_end")).where(
            models.c.name.is_not(None)
        )
    query = sa.select(t.c.model_name, sa.func.max(t.c.window_end).label("latest_end")).where(
        t.c.window_end <= at
    )
    if model_name is not None:
        query = query.where(t.c.model_name == model_name)
    return query.group_by(t.c.model_name)


def run_scan(
    conn: sa.Connection, now: datetime, thresholds: ThresholdSet, model_name: str | None = None
) -> dict[str, list[Row]]:
    """Run the three queries; rows as dicts with aware UTC times."""
    queries = scan_queries(conn.dialect.name, now, thresholds, model_name)
    return {name: _rows(conn.execute(query)) for name, query in queries.items()}


def _rows(result: sa.CursorResult[Any]) -> list[Row]:
    """`as_row` for a scan's result, tens of thousands of rows at fleet scale: the keys are
    lowered once and only the window times (naive UTC from the database) are made aware."""
    names = result.keys()
    keys = [str(k).lower() for k in names]
    times = [k for k in ("window_start", "window_end") if k in keys]
    out = []
    for values in result:
        row = dict(zip(keys, values, strict=True))
        for key in times:
            value = row[key]
            if isinstance(value, datetime) and value.tzinfo is None:
                row[key] = value.replace(tzinfo=UTC)
        out.append(row)
    return out
