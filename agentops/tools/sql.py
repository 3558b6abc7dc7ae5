"""A guarded read-only SQL tool: one SELECT over the contract's six tables, checked before it runs.

sqlglot parses the query in the store's dialect; it is refused (SQLRefused names the table,
function or clause) unless it is one SELECT whose every syntax node is of an allowed kind (so
PRAGMA, INTO, FOR UPDATE, parameters, ... are refused without being listed), whose every
function is on FUNCTIONS / TABLE_FUNCTIONS, and whose every table reference resolves to one of
ALLOWED_TABLES. A CTE answers only to an unqualified name, only where the database sees it
(after its definition, not in its own body), and may not be named like a contract table or a
catalog; a qualified name (`main.x`) is always the real table; recursive CTEs are refused.
What runs is sqlglot's regeneration (no comments; outside SQLite every identifier quoted, so a
keyword such as `user` is never read as a value), checked again as text, in a rolled-back
transaction (PostgreSQL: READ ONLY; SQLite: `query_only`) with a row limit, a time limit
(SQLite: an instruction budget and a clock), SQLite's size limits and a cap on rendered bytes.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from agentops.clock import iso

# The contract's tables (CONTRACT.md); agentops' own tables and the catalogs stay out of reach.
ALLOWED_TABLES = frozenset(
    {"model_metrics", "data_quality", "feature_drift", "deployments", "pipeline_runs", "incidents"}
)
MAX_ROWS = 50
TIMEOUT_S = 10
# SQLite calls our check every 100 VM instructions (often, since one instruction may scan a
# 256 KiB value); this many checks is 20 million instructions, the same work on every run.
SQLITE_STEP_BUDGET = 200_000
# The rendered rows stop near this many bytes (the tool's answer is a few KB anyway) ...
MAX_RESULT_BYTES = 16_000
# ... and a long text cell is clipped, so one row cannot blow the budget on its own.
MAX_CELL_CHARS = 1_000
# SQLite refuses to build any string or blob longer than this ("string or blob too big"), so
# replace()/||/group_concat cannot grow a value to hundreds of MB. Contract rows are far smaller.
MAX_VALUE_BYTES = 256 * 1024
# PostgreSQL has no such limit (a text value may reach 1 GB), so a row whose text is longer
# fails with an error naming the cap before it is sent: 51 rows stay a few MB in our memory.
# (The failing cast reads the row, so the planner cannot fold it into an error up front.)
_POSTGRES_ROW_CAP = (
    'SELECT "guarded".* FROM ({query}) AS "guarded" WHERE CASE WHEN '
    'OCTET_LENGTH(CAST("guarded" AS TEXT)) > {limit} THEN CAST(LEFT(CAST("guarded" AS TEXT), 0) '
    "|| 'a result row is over {limit} bytes: select fewer or shorter columns' AS INT) ELSE 1 "
    "END = 1"
)

# Names as sqlglot knows them: a typed function by its canonical name (IFNULL and NVL are
# COALESCE, INSTR and STRPOS are STR_POSITION, STRFTIME is TIME_TO_STR, ...), any other by the
# name written. printf/format, repeat/lpad, randomblob/zeroblob, hex, random, load_extension,
# readfile, sqlite_version, pragma_*, current_user, version(), pg_*, query_to_xml, dblink,
# generate_series, GENERATOR, RESULT_SCAN, GET_DDL, SYSTEM$... are refused by not being here.
FUNCTIONS = frozenset(
    {
        # aggregates
        *("count", "sum", "avg", "min", "max", "total", "group_concat", "median", "count_if"),
        *("stddev", "stddev_samp", "stddev_pop", "variance", "variance_pop", "any_value"),
        *("percentile_cont", "percentile_disc", "logical_and", "logical_or"),
        # window functions
        *("row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile"),
        *("lag", "lead", "first_value", "last_value", "nth_value"),
        # math and conditionals
        *("abs", "round", "ceil", "floor", "sqrt", "power", "exp", "ln", "log", "sign", "trunc"),
        *("greatest", "least", "coalesce", "nullif", "if", "iff", "zeroifnull", "typeof"),
        # strings
        *("lower", "upper", "length", "substring", "trim", "replace", "str_position", "concat"),
        *("concat_ws", "split_part", "left", "right", "starts_with", "ends_with", "contains"),
        # dates and times
        *("date", "time", "datetime", "julianday", "strftime", "time_to_str", "unixepoch"),
        *("ts_or_ds_to_timestamp", "ts_or_ds_to_date", "current_date", "current_timestamp"),
        *("current_time", "now", "date_add", "dateadd", "datediff", "date_trunc", "extract"),
        *("timestamp_trunc", "date_part", "age", "to_date", "str_to_date", "to_timestamp"),
        *("str_to_time", "unix_to_time", "to_char", "convert_timezone", "last_day"),
        *("timestampdiff", "timestampadd", "year", "month", "day", "hour", "minute"),
        # JSON held in text columns
        *("json_extract", "json_extract_scalar", "json_array_length", "json_type", "json_valid"),
        *("parse_json", "try_parse_json"),
    }
)
# Table-valued functions that only unpack their own argument (EXPLODE is Snowflake's FLATTEN).
TABLE_FUNCTIONS = frozenset(
    {"json_each", "json_tree", "json_array_elements", "jsonb_array_elements", "explode"}
)

# Node kinds a monitoring query is made of; anything else in the tree is refused.
_SYNTAX: frozenset[type[exp.Expression]] = frozenset(
    {
        *(exp.Select, exp.Union, exp.Except, exp.Intersect, exp.Subquery, exp.Values, exp.Tuple),
        *(exp.With, exp.CTE, exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Qualify),
        *(exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Distinct, exp.Window),
        *(exp.WindowSpec, exp.Filter, exp.WithinGroup, exp.Lateral, exp.TableFromRows),
        *(exp.TableAlias, exp.Alias, exp.Column, exp.Identifier, exp.Star, exp.Literal),
        *(exp.Boolean, exp.Null, exp.Var, exp.DataType, exp.DataTypeParam, exp.Interval),
        *(exp.Kwarg, exp.Bracket, exp.AtTimeZone, exp.Case, exp.Cast, exp.TryCast, exp.Collate),
        *(exp.JSONPath, exp.JSONPathKey, exp.JSONPathRoot, exp.JSONPathSubscript),
        *(exp.JSONPathWildcard, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod),
        *(exp.DPipe, exp.Neg, exp.Paren, exp.Not, exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT),
        *(exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Is, exp.Like),
        *(exp.ILike, exp.Glob, exp.Escape, exp.Between, exp.In, exp.Exists, exp.Any, exp.All),
        exp.Table,
    }
)
_READ_ONLY_HINT = (exp.Into, exp.Lock, exp.Insert, exp.Update, exp.Delete, exp.Merge)
_CAST_TYPES = frozenset(
    getattr(exp.DataType.Type, name)
    for name in (
        *("TEXT", "VARCHAR", "CHAR", "NCHAR", "NVARCHAR", "BPCHAR", "INT", "BIGINT", "SMALLINT"),
        *("TINYINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN", "DATE", "DATETIME", "TIMESTAMP"),
        *("TIMESTAMPTZ", "TIMESTAMPLTZ", "TIMESTAMPNTZ", "TIME", "TIMETZ", "INTERVAL", "JSON"),
        *("JSONB", "VARIANT"),
    )
)
# Bare words sqlglot keeps verbatim (time units, collations, FLATTEN's argument names).
_UNITS = ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND")
_WORDS = frozenset(
    {*_UNITS, *(unit + "S" for unit in _UNITS), "MICROSECOND", "MICROSECONDS", "EPOCH", "DOW"}
    | {"DOY", "ISODOW", "ISOYEAR", "DAYOFWEEK", "DAYOFYEAR", "WEEKDAY", "NOCASE", "BINARY"}
    | {"RTRIM", "INPUT", "PATH", "OUTER", "RECURSIVE", "MODE"}
)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_$]*)\(")
_CATALOG_PREFIXES = ("sqlite_", "pg_", "information_schema", "agentops_")
# SQLAlchemy's dialect names and sqlglot's, to sqlglot's
_DIALECTS = dict(sqlite="sqlite", postgresql="postgres", postgres="postgres", snowflake="snowflake")
_SQLITE_LIMITS = {
    sqlite3.SQLITE_LIMIT_LENGTH: MAX_VALUE_BYTES,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 100_000,
    sqlite3.SQLITE_LIMIT_COLUMN: 100,
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 200,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 20,
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 500,
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,
}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class SQLRefused(ValueError):
    """The query is not a single read of the allowed tables; the message says why."""


def dialect_of(engine: sa.Engine) -> str:
    name = engine.dialect.name
    return _DIALECTS.get(name, name)


def check_sql(sql: str, dialect: str, *, max_rows: int = MAX_ROWS) -> str:
    """The query to run (with a row limit) or SQLRefused saying what is not allowed."""
    if dialect not in _DIALECTS:
        raise SQLRefused(f"the SQL tool reads SQLite, PostgreSQL or Snowflake, not {dialect}")
    dialect = _DIALECTS[dialect]
    policy = _Policy(dialect)
    try:
        query = _parse_one(sql, dialect)
        policy.check(query)
        limit = query.args.get("limit")
        bound = limit.expression if isinstance(limit, exp.Limit) else None
        if not (isinstance(bound, exp.Literal) and bound.is_int and int(bound.this) <= max_rows):
            query = query.limit(max_rows + 1)
        checked = _generate(_fence_subqueries(query, dialect), dialect)
        policy.check(_parse_one(checked, dialect))  # the text that runs obeys the same rules
    except RecursionError:
        raise SQLRefused("the query is nested too deeply") from None
    if dialect == "postgres":  # our own wrapper around the checked text, so not checked again
        checked = _POSTGRES_ROW_CAP.format(query=checked, limit=MAX_VALUE_BYTES)
    return checked


def _parse_one(sql: str, dialect: str) -> exp.Query:
    try:
        parsed = sqlglot.parse(sql.encode().decode(), read=dialect)  # no lone surrogates
    except UnicodeEncodeError:
        raise SQLRefused("the query is not valid Unicode text") from None
    except SqlglotError as exc:
        raise SQLRefused(f"cannot parse the query: {str(exc).splitlines()[0]}") from None
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if len(statements) != 1:
        raise SQLRefused(f"send exactly one SELECT statement (got {len(statements)})")
    query = statements[0]
    if not isinstance(query, exp.Select | exp.SetOperation):
        raise SQLRefused(f"only SELECT queries are allowed (got {query.key.upper()})")
    return query


def _fence_subqueries(query: exp.Query, dialect: str) -> exp.Query:
    """OFFSET 0 on every subquery and CTE body, so the planner runs each on its own instead of
    pasting its expressions into the outer query: CTEs chained as `s || s || ...` would make
    that copy exponentially large (hundreds of MB) before a row is read. (Snowflake plans its
    queries on its own servers.)"""
    if dialect == "snowflake":
        return query
    nested = [sub.this for sub in query.find_all(exp.Subquery)]
    for body in nested + [cte.this for cte in query.find_all(exp.CTE)]:
        if not isinstance(body, exp.Query) or body.args.get("offset") is not None:
            continue
        if dialect == "sqlite" and body.args.get("limit") is None:  # SQLite: no OFFSET alone
            body.set("limit", exp.Limit(expression=exp.Literal.number(-1)))
        body.set("offset", exp.Offset(expression=exp.Literal.number(0)))
    return query


def _generate(query: exp.Query, dialect: str) -> str:
    try:
        if dialect != "sqlite":
            # SQLite would read a quoted unknown column as a string, so it keeps its bare names.
            query = normalize_identifiers(query, dialect=dialect)
        return query.sql(
            dialect=dialect,
            comments=False,
            identify=dialect != "sqlite",
            unsupported_level=ErrorLevel.RAISE,
        )
    except SqlglotError as exc:
        raise SQLRefused(f"the query cannot be run as written: {exc}") from None


def _written_name(node: exp.Func, dialect: str) -> str:
    """The function's name as the database would see it (sqlglot's own name if that fails)."""
    try:
        call = _CALL.match(node.sql(dialect=dialect, comments=False))
    except SqlglotError:
        call = None
    return (call.group(1) if call else node.sql_name()).lower()


class _Policy:
    """Walks a parsed query with the CTE names visible at each point and refuses what it must."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.allowed = {self._fold(name, quoted=False) for name in ALLOWED_TABLES}

    def check(self, query: exp.Expr) -> None:
        self._visit(query, frozenset())

    def _visit(self, node: exp.Expr, ctes: frozenset[str]) -> None:
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With):
            ctes = self._visit_with(with_, ctes)
        self._check_node(node, ctes)
        for key, value in node.args.items():
            if key == "with_":
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Expr):
                    self._visit(child, ctes)

    def _visit_with(self, with_: exp.With, outer: frozenset[str]) -> frozenset[str]:
        if with_.args.get("recursive"):
            raise SQLRefused("recursive CTEs are not allowed: they can run without bound")
        if any(with_.args.get(key) for key in ("search", "cycle", "udfs")):
            raise SQLRefused("only plain CTEs are allowed")
        visible, defined = set(outer), set()
        for cte in with_.expressions:
            ident = cte.args["alias"].this
            name, folded = self._canonical(ident), ident.name.translate(_ASCII_LOWER)
            if name in defined:
                raise SQLRefused(f"CTE {ident.name} is defined twice")
            if folded in ALLOWED_TABLES or folded.startswith(_CATALOG_PREFIXES):
                raise SQLRefused(
                    f"CTE {ident.name} is named like a table; give it a name of its own"
                )
            # a CTE sees the CTEs before it, never itself or the ones after it
            self._visit(cte, frozenset(visible))
            visible.add(name)
            defined.add(name)
        return frozenset(visible)

    def _check_node(self, node: exp.Expr, ctes: frozenset[str]) -> None:
        if type(node) not in _SYNTAX:  # exact kinds: a subclass is a different construct
            if isinstance(node, exp.Func):
                self._check_function(node)
                return
            what = node.key.upper()
            if isinstance(node, _READ_ONLY_HINT):
                raise SQLRefused(f"{what} is not allowed: this tool only reads")
            raise SQLRefused(f"{what} is not allowed in this tool's queries")
        if isinstance(node, exp.Table):
            self._check_table(node, ctes)
        elif isinstance(node, exp.In) and node.args.get("field") is not None:
            raise SQLRefused("`IN table` is not allowed: write IN (SELECT ... FROM table)")
        elif isinstance(node, exp.Identifier) and not node.quoted:
            if not _PLAIN_NAME.match(node.name):
                raise SQLRefused(f"quote the identifier {node.name!r}")
        elif isinstance(node, exp.Var) and node.name.upper() not in _WORDS:
            raise SQLRefused(f"{node.name} is not allowed here")
        elif isinstance(node, exp.DataType) and node.this not in _CAST_TYPES:
            raise SQLRefused(f"type {node.sql(dialect=self.dialect)} is not allowed")

    def _check_function(self, node: exp.Func) -> None:
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        written = _written_name(node, self.dialect)
        table_position = node.arg_key == "this" and isinstance(
            node.parent, exp.Table | exp.Lateral | exp.TableFromRows
        )
        if table_position and name not in TABLE_FUNCTIONS:
            allowed = ", ".join([*sorted(TABLE_FUNCTIONS - {"explode"}), "flatten"])
            raise SQLRefused(f"table function {written}() is not allowed (allowed: {allowed})")
        if not table_position and name not in FUNCTIONS:
            raise SQLRefused(
                f"function {written}() is not allowed: use aggregate, window, math, string, "
                "date/time or JSON functions"
            )

    def _check_table(self, table: exp.Table, ctes: frozenset[str]) -> None:
        target, db, catalog = table.this, table.args.get("db"), table.args.get("catalog")
        shown = table.sql(dialect=self.dialect, comments=False)
        allowed = ", ".join(sorted(ALLOWED_TABLES))
        if isinstance(target, exp.Func):  # a table-valued function: _check_function names it
            if db is not None or catalog is not None:
                raise SQLRefused(f"{shown}: call table functions without a schema")
            return
        if not isinstance(target, exp.Identifier):
            raise SQLRefused(f"{shown} is not a table name; read one of: {allowed}")
        name = self._canonical(target)
        if db is None and catalog is None and name in ctes:
            return
        main_schema = self.dialect == "sqlite" and catalog is None and self._canonical(db) == "main"
        if (db is not None or catalog is not None) and not main_schema:
            raise SQLRefused(
                f"table {shown} is not allowed: write the bare table name (one of: {allowed})"
            )
        if name not in self.allowed:
            raise SQLRefused(f"table {shown} is not allowed (allowed: {allowed})")

    def _canonical(self, ident: exp.Expression | None) -> str:
        """The name the database resolves: SQLite ignores (ASCII) case; PostgreSQL folds bare
        names to lower case and Snowflake to upper case; quoted names are taken as written."""
        if not isinstance(ident, exp.Identifier):
            return ""
        return self._fold(ident.name, quoted=ident.quoted)

    def _fold(self, name: str, *, quoted: bool) -> str:
        if self.dialect == "sqlite":
            return name.translate(_ASCII_LOWER)
        if quoted:
            return name
        return name.translate(_ASCII_UPPER if self.dialect == "snowflake" else _ASCII_LOWER)


def run_guarded_sql(
    engine: sa.Engine, sql: str, *, max_rows: int = MAX_ROWS, timeout_s: int = TIMEOUT_S
) -> dict[str, Any]:
    """Columns and at most `max_rows` rows (fewer if they render past MAX_RESULT_BYTES);
    SQLRefused for a refused query, SQLAlchemyError when the database rejects it, interrupts
    it ("interrupted") or stops a value growing too big ("string or blob too big")."""
    checked = check_sql(sql, dialect_of(engine), max_rows=max_rows)
    with engine.connect() as conn:
        restore = _limit_connection(conn, timeout_s)
        try:
            result = conn.exec_driver_sql(checked, execution_options={"no_parameters": True})
            columns = [_plain(str(c).lower()) for c in list(result.keys())]
            rows, more_rows = _fetch_bounded(result, max_rows)
        finally:
            try:
                conn.rollback()
            finally:
                restore()  # the pool hands this connection on: never with our limits
    return {"columns": columns, "rows": rows, "row_count": len(rows), "more_rows": more_rows}


def _fetch_bounded(result: sa.CursorResult[Any], max_rows: int) -> tuple[list[list[Any]], bool]:
    """Rows one at a time until `max_rows` or MAX_RESULT_BYTES; whether more were left."""
    rows: list[list[Any]] = []
    size = 0
    while (row := result.fetchone()) is not None:
        plain = [_plain(value) for value in row]
        size += len(json.dumps(plain, default=str))
        if len(rows) == max_rows or (rows and size > MAX_RESULT_BYTES):
            return rows, True
        rows.append(plain)
    return rows, False


def _limit_connection(conn: sa.Connection, timeout_s: int) -> Callable[[], object]:
    """Apply the time, size and read-only limits; return a function that undoes them."""
    name = conn.dialect.name
    if name == "sqlite":
        raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
        calls = 0
        # The budget makes runs repeatable; the clock (timeout_s) stops work the budget does
        # not see: one instruction can search a long string or spill a sort to disk.
        deadline = time.monotonic() + timeout_s

        def budget() -> int:
            nonlocal calls
            calls += 1
            # non-zero interrupts the query
            return 1 if calls > SQLITE_STEP_BUDGET or time.monotonic() > deadline else 0

        was_query_only = raw.execute("PRAGMA query_only").fetchone()[0]
        previous = {limit: raw.setlimit(limit, value) for limit, value in _SQLITE_LIMITS.items()}
        raw.execute("PRAGMA query_only = ON")
        raw.set_progress_handler(budget, 100)

        def restore() -> None:
            raw.set_progress_handler(None, 0)
            raw.execute(f"PRAGMA query_only = {int(was_query_only)}")
            for limit, value in previous.items():
                raw.setlimit(limit, value)

        return restore
    if name == "postgresql":
        # both end with the transaction, which is rolled back
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_s) * 1000}")
    elif name == "snowflake":
        # a session setting, not undone by the rollback: unset it before the pool reuses it
        conn.exec_driver_sql(f"ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = {int(timeout_s)}")
        return lambda: conn.exec_driver_sql("ALTER SESSION UNSET STATEMENT_TIMEOUT_IN_SECONDS")
    return lambda: None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        return round(float(value), 5)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{memoryview(value).nbytes} bytes>"
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"
