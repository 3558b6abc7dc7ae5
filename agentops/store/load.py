"""Validated, transactional loads into the store.

Every row is checked against its table before anything is written: an unknown table or
column, a missing required column, NaN, a rate outside 0..1, a negative count or latency, a
status outside the contract's words, or a bad timestamp raise `DataError` naming the table,
the row and the column. All tables of one load go in one transaction: nothing half-written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from agentops.clock import parse_instant
from agentops.domain import AlertType, RootCauseCategory, Severity
from agentops.errors import DataError
from agentops.store.engine import describe, require_tables, writing
from agentops.store.tables import LOADABLE_TABLES

RATE_COLUMNS = {"f1", "precision", "recall", "error_rate", "null_rate", "out_of_range_rate"}
NON_NEGATIVE = {
    "latency_p50_ms",
    "latency_p99_ms",
    "request_count",
    "row_count",
    "schema_errors",
    "psi",
    "rows_processed",
}
ALLOWED_WORDS: dict[tuple[str, str], set[str]] = {
    ("model_metrics", "status"): {"up", "degraded", "down"},
    ("pipeline_runs", "status"): {"success", "partial", "failed"},
    ("incidents", "severity"): {s.value for s in Severity},
    ("incidents", "root_cause_category"): {c.value for c in RootCauseCategory},
}


def to_db_time(value: Any, *, what: str) -> datetime:
    """Naive UTC, as the tables store times."""
    return parse_instant(value, what=what).replace(tzinfo=None)


def validate_row(table_name: str, index: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """One row made ready for insert, or DataError naming table, row and column."""
    table = LOADABLE_TABLES.get(table_name.lower())
    if table is None:
        known = ", ".join(sorted(LOADABLE_TABLES))
        raise DataError(f"unknown table {table_name!r} (known: {known})")
    where = f"{table.name.upper()} row {index + 1}"
    if not isinstance(row, Mapping):
        raise DataError(f"{where}: expected a mapping of column: value, got {row!r}")
    columns = table.c
    clean: dict[str, Any] = {}
    for key, value in row.items():
        name = str(key).lower()
        if name not in columns:
            raise DataError(f"{where}: unknown column {key!r} in {table.name.upper()}")
        clean[name] = _check_value(table.name, where, name, columns[name], value)
    if table.name == "incidents" and clean.get("status") is None:
        # history rows often give only resolved_at: without a status they would read as open
        clean["status"] = "resolved" if clean.get("resolved_at") is not None else "open"
    for column in columns:
        if (
            not column.nullable
            and column.server_default is None
            and column.default is None
            and clean.get(column.name) is None
        ):
            raise DataError(f"{where}: column {column.name!r} is required")
    return clean


def _check_value(table: str, where: str, name: str, column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        raise DataError(f"{where}: column {name!r} is NaN")
    if table == "incidents" and name == "alert_types":
        items = value if isinstance(value, list) else str(value).split(",")
        words = [str(v).strip() for v in items if str(v).strip()]
        bad = [w for w in words if w not in {a.value for a in AlertType}]
        if bad:
            raise DataError(f"{where}: column 'alert_types' has unknown alert types {bad}")
        return ",".join(words)
    if isinstance(column.type, sa.DateTime):
        return to_db_time(value, what=f"{where}: column {name!r}")
    if isinstance(column.type, (sa.Float, sa.Integer)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise DataError(f"{where}: column {name!r} is not a number: {value!r}") from None
        if math.isnan(value) or math.isinf(value):
            raise DataError(f"{where}: column {name!r} is {value}")
        if name in RATE_COLUMNS and not 0.0 <= value <= 1.0:
            raise DataError(f"{where}: column {name!r} must be within 0..1, got {value}")
        if name in NON_NEGATIVE and value < 0:
            raise DataError(f"{where}: column {name!r} must not be negative, got {value}")
        if isinstance(column.type, sa.Integer):
            if float(value) != int(value):
                raise DataError(f"{where}: column {name!r} must be a whole number, got {value}")
            return int(value)
        return float(value)
    if isinstance(column.type, sa.Boolean):
        return bool(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    text = str(value)
    allowed = ALLOWED_WORDS.get((table, name))
    if allowed is not None and text not in allowed:
        raise DataError(f"{where}: column {name!r} is {text!r}; expected one of {sorted(allowed)}")
    return text


def load_tables(
    engine: sa.Engine,
    tables: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    replace: bool = False,
) -> dict[str, int]:
    """Validate every row of every table, then insert them all in one transaction.

    With `replace`, each named table is emptied first (inside the same transaction).
    Returns the number of rows written per table.
    """
    prepared: dict[str, list[dict[str, Any]]] = {}
    for name, rows in tables.items():
        if rows is None:
            continue
        if isinstance(rows, (str, bytes, Mapping)):
            raise DataError(f"table {name!r}: expected a list of rows")
        key = name.lower()
        prepared[key] = [validate_row(key, i, row) for i, row in enumerate(rows)]
    require_tables(engine, list(prepared))
    counts: dict[str, int] = {}
    try:
        with writing(engine) as conn:
            for name, rows in prepared.items():
                table = LOADABLE_TABLES[name]
                if replace:
                    conn.execute(table.delete())
                for group in _by_columns(rows):
                    _insert(conn, table, group)
                counts[name] = len(rows)
    except sa.exc.IntegrityError as exc:
        reason = str(exc.orig).splitlines()[0]
        raise DataError(
            f"load into {describe(engine)} refused, nothing written: {reason}"
        ) from None
    return counts


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """SQLite: executemany. Snowflake: multi-row VALUES in chunks, since one round trip per
    row is what makes warehouse loads slow (and fakesnow transpiles each statement)."""
    if conn.dialect.name != "snowflake":
        conn.execute(table.insert(), rows)
        return
    for start in range(0, len(rows), _CHUNK):
        conn.execute(table.insert().values(rows[start : start + _CHUNK]))


_CHUNK = 1000


def _by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())
