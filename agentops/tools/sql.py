"""A guarded read-only SQL tool: one SELECT over the contract's tables, checked before it runs.

The query is parsed with sqlglot in the store's own dialect and refused unless it is
exactly one query (SELECT / UNION / WITH ... SELECT) that reads only the allowed tables and
calls no file- or extension-loading function. It then runs with a row limit, a time limit
set on the connection (SQLite: an instruction budget, which needs no clock), SQLite's
`query_only` switch, and a rolled-back transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from agentops.clock import iso

ALLOWED_TABLES = frozenset(
    {
        "model_metrics",
        "data_quality",
        "feature_drift",
        "deployments",
        "pipeline_runs",
        "incidents",
        "model_registry",
    }
)
MAX_ROWS = 50
TIMEOUT_S = 10
# SQLite checks this callback every 1,000 VM instructions; this many checks is roughly ten
# seconds of work on a laptop, and the same on every run.
SQLITE_STEP_BUDGET = 20_000

_WRITES: tuple[type[exp.Expression], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Drop,
    exp.Create,
    exp.Alter,
    exp.Command,
    exp.Merge,
    exp.Pragma,
    exp.Into,
    exp.Copy,
    exp.Use,
    exp.Set,
    exp.Transaction,
    exp.Commit,
    exp.Attach,
    exp.Detach,
    exp.Lock,
)
_DENIED_FUNCTIONS = ("load_extension", "readfile", "writefile", "edit", "system", "fts3_tokenizer")
_DENIED_PREFIXES = ("read_", "write_", "pg_", "copy_")

_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "snowflake": "snowflake"}


class SQLRefused(ValueError):
    """The query is not a single read of the allowed tables; the message says why."""


def dialect_of(engine: sa.Engine) -> str:
    name = engine.dialect.name
    return _DIALECTS.get(name, name)


def check_sql(sql: str, dialect: str, *, max_rows: int = MAX_ROWS) -> str:
    """The query to run (with a row limit) or SQLRefused saying what is not allowed."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        raise SQLRefused(f"cannot parse the query: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise SQLRefused(f"send exactly one SELECT statement (got {len(statements)})")
    query = statements[0]
    if not isinstance(query, exp.Query):
        raise SQLRefused(f"only SELECT queries are allowed (got {query.key.upper()})")
    for node in query.walk():
        if isinstance(node, _WRITES):
            raise SQLRefused(f"{node.key.upper()} is not allowed: this tool only reads")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
                raise SQLRefused(f"function {name}() is not allowed")
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise SQLRefused("table functions are not allowed; read the tables directly")
        name = table.name.lower()
        if name in ctes:
            continue
        if name not in ALLOWED_TABLES or (table.db and table.db.lower() not in ("main", "")):
            allowed = ", ".join(sorted(ALLOWED_TABLES))
            raise SQLRefused(
                f"table {table.sql(dialect=dialect)} is not allowed (allowed: {allowed})"
            )
    if isinstance(query, exp.Select):
        limit = query.args.get("limit")
        current = _literal_int(limit.expression) if isinstance(limit, exp.Limit) else None
        if current is None or current > max_rows + 1:
            query = query.limit(max_rows + 1)
    return query.sql(dialect=dialect)


def _literal_int(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.this)
    return None


def run_guarded_sql(
    engine: sa.Engine, sql: str, *, max_rows: int = MAX_ROWS, timeout_s: int = TIMEOUT_S
) -> dict[str, Any]:
    """Columns and at most `max_rows` rows; SQLRefused for a refused query, StatementError
    (from SQLAlchemy) when the database rejects or interrupts it."""
    checked = check_sql(sql, dialect_of(engine), max_rows=max_rows)
    with engine.connect() as conn:
        restore = _limit_connection(conn, timeout_s)
        try:
            result = conn.execute(sa.text(checked))
            columns = [str(c).lower() for c in list(result.keys())]
            rows = result.fetchmany(max_rows + 1)
        finally:
            conn.rollback()
            restore()
    return {
        "columns": columns,
        "rows": [[_plain(v) for v in row] for row in rows[:max_rows]],
        "row_count": min(len(rows), max_rows),
        "more_rows": len(rows) > max_rows,
    }


def _limit_connection(conn: sa.Connection, timeout_s: int) -> Any:
    """Apply the time limit and read-only switch; return a function that undoes them."""
    name = conn.dialect.name
    if name == "sqlite":
        raw = conn.connection.driver_connection
        calls = 0

        def budget() -> int:
            nonlocal calls
            calls += 1
            return 1 if calls > SQLITE_STEP_BUDGET else 0  # non-zero interrupts the query

        raw.execute("PRAGMA query_only = ON")  # type: ignore[union-attr]
        raw.set_progress_handler(budget, 1000)  # type: ignore[union-attr]

        def restore() -> None:
            raw.set_progress_handler(None, 0)  # type: ignore[union-attr]
            raw.execute("PRAGMA query_only = OFF")  # type: ignore[union-attr]

        return restore
    if name == "snowflake":
        conn.execute(sa.text(f"ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = {int(timeout_s)}"))
    elif name == "postgresql":
        conn.execute(sa.text(f"SET statement_timeout = {int(timeout_s) * 1000}"))
    return lambda: None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 5)
    return value
