"""Times in a SQLite monitoring database must be UTC text in one shape, or detection would
silently skip them.

SQLite has no time type: it stores text and compares text. agentops (through SQLAlchemy)
writes and compares `YYYY-MM-DD HH:MM:SS[.ffffff]`; a job that writes `2026-11-20T06:00:00`
or `…+02:00` produces rows that sort after every time of that day and are never read as the
latest window — a model at F1 0.1 would look fine. So each pass samples the newest rows of
every time column (cheap: by rowid) and refuses, by name, a shape it cannot compare;
`agentops db normalize-times` rewrites such values to UTC in place. Warehouses (Snowflake,
PostgreSQL) have real timestamp types and need neither.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from agentops.errors import DataError

TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "model_metrics": ("window_start", "window_end"),
    "data_quality": ("window_start", "window_end"),
    "feature_drift": ("window_start", "window_end"),
    "deployments": ("deployed_at",),
    "pipeline_runs": ("started_at", "finished_at"),
}
CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?")
SAMPLE = 200


def odd_times(conn: sa.Connection, sample: int = SAMPLE) -> list[tuple[str, str, str]]:
    """(table, column, value) for newest-row time values SQLite cannot compare as ours."""
    if conn.dialect.name != "sqlite":
        return []
    odd: list[tuple[str, str, str]] = []
    existing = {name.lower() for name in sa.inspect(conn).get_table_names()}
    for table, columns in TIME_COLUMNS.items():
        if table not in existing:
            continue
        listed = ", ".join(f"CAST({c} AS TEXT) AS {c}" for c in columns)
        rows = conn.exec_driver_sql(
            f"SELECT {listed} FROM {table} ORDER BY rowid DESC LIMIT {int(sample)}"
        ).all()
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                if value is not None and not CANONICAL.fullmatch(str(value)):
                    odd.append((table, column, str(value)))
                    break
            if odd and odd[-1][0] == table:
                break
    return odd


def require_comparable_times(conn: sa.Connection) -> None:
    """DataError naming the first table and value a pass could not compare."""
    odd = odd_times(conn)
    if odd:
        table, column, value = odd[0]
        raise DataError(
            f"{table.upper()}.{column} holds {value!r}: in SQLite agentops compares times as "
            "UTC text 'YYYY-MM-DD HH:MM:SS', so these rows would never be read as the latest "
            "window; run `agentops db normalize-times` to rewrite them to UTC in place"
        )


def normalize_times(conn: sa.Connection) -> dict[str, int]:
    """Rewrite every non-canonical time value to UTC 'YYYY-MM-DD HH:MM:SS' (SQLite's own
    date functions parse ISO-8601 with T, Z, offsets and fractions); rows changed per
    table.column. A value SQLite cannot parse is an error naming it, and nothing changes."""
    changed: dict[str, int] = {}
    for table, columns in TIME_COLUMNS.items():
        for column in columns:
            bad = conn.exec_driver_sql(
                f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL "
                f"AND strftime('%Y-%m-%d %H:%M:%S', {column}) IS NULL LIMIT 1"
            ).first()
            if bad is not None:
                raise DataError(
                    f"{table.upper()}.{column} holds {bad[0]!r}, which is no ISO-8601 time; "
                    "nothing was changed"
                )
            utc = f"strftime('%Y-%m-%d %H:%M:%S', {column})"
            done = conn.exec_driver_sql(
                f"UPDATE {table} SET {column} = {utc} WHERE {column} IS NOT NULL AND "
                f"({utc} != substr({column}, 1, 19) OR {column} GLOB '*[A-Za-z+]*' "
                f"OR length({column}) > 26)"
            )
            if done.rowcount:
                changed[f"{table}.{column}"] = int(done.rowcount)
    return changed
