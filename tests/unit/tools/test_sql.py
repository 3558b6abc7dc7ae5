"""The guarded SQL tool: one SELECT over the six contract tables, bounded rows, work and memory.

Each evasion a security review found (or we found since) is a regression test here, run against
a real SQLite store whose forbidden tables hold a marker that must never come back.
"""

from __future__ import annotations

import json
import resource
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.store import create_store_engine, init_schema
from agentops.tools import SQLRefused, ToolResult, check_sql, run_guarded_sql
from agentops.tools.knowledge import sql_tool
from agentops.tools.sql import MAX_CELL_CHARS, MAX_RESULT_BYTES, MAX_VALUE_BYTES

SECRET = "SECRET-do-not-leak"
# What a store may hold besides the contract's tables: agentops' ledger and outbox, its
# registry, jobs and schema version, and anything else a team keeps there.
FORBIDDEN_TABLES = (
    "action_log",
    "messages",
    "retrain_jobs",
    "model_registry",
    "schema_version",
    "agentops_messages",
    "secrets",
)
FEATURES = 40


def build_guarded_store(path: Path) -> sa.Engine:
    """A SQLite store with the contract tables (a few rows) and forbidden tables holding SECRET."""
    engine = create_store_engine(f"sqlite:///{path}")
    init_schema(engine)
    with engine.begin() as conn:
        for table in FORBIDDEN_TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            conn.exec_driver_sql(f"CREATE TABLE {table} (model_name TEXT, detail TEXT, text TEXT)")
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES ('{SECRET}', '{SECRET}', '{SECRET}')")
        conn.execute(
            sa.text(
                "INSERT INTO feature_drift (model_name, feature_name, window_start, window_end, "
                "psi) VALUES ('classifier_v2', :f, '2026-11-20 10:00:00', '2026-11-20 11:00:00', "
                ":psi)"
            ),
            [{"f": f"V{i}", "psi": i / 100} for i in range(FEATURES)],
        )
        conn.execute(
            sa.text(
                "INSERT INTO model_metrics (model_name, window_start, window_end, f1, status) "
                "VALUES ('classifier_v2', :start, :end, :f1, 'up')"
            ),
            [
                {"start": f"2026-11-20 0{h}:00:00", "end": f"2026-11-20 0{h + 1}:00:00", "f1": 0.9}
                for h in range(6)
            ],
        )
        conn.exec_driver_sql(
            "INSERT INTO deployments (deployment_id, model_name, model_version, deployed_at) "
            "VALUES ('dep-210', 'classifier_v2', '2.3.0', '2026-11-11 12:00:00')"
        )
    return engine


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = build_guarded_store(tmp_path_factory.mktemp("sql") / "store.db")
    yield engine
    engine.dispose()


def call_tool(engine: sa.Engine, query: str) -> ToolResult:
    return ToolResult.model_validate_json(sql_tool(engine).invoke({"query": query}))


# (query, what the refusal names). Each reads a forbidden table, a catalog, a function outside
# the allow-list, or is not a single read.
SQLITE_EVASIONS = [
    # a CTE named like the table does not make the qualified name safe
    ("WITH action_log AS (SELECT 1 AS x) SELECT * FROM main.action_log", "main.action_log"),
    ("WITH messages AS (SELECT 1 AS x) SELECT text FROM main.messages", "main.messages"),
    ('WITH messages AS (SELECT 1 AS x) SELECT * FROM MAIN."Messages"', "Messages"),
    # a CTE inside a subquery does not shadow the table outside it
    (
        "SELECT * FROM (WITH action_log AS (SELECT 1 AS x) SELECT * FROM action_log) AS q, "
        "action_log",
        "action_log",
    ),
    # a CTE's body, or an earlier CTE's, does not see the CTE: the name is the real table
    ("WITH retrain_jobs AS (SELECT * FROM retrain_jobs) SELECT * FROM retrain_jobs", "retrain"),
    ("WITH a AS (SELECT * FROM secrets), secrets AS (SELECT 1) SELECT * FROM a", "secrets"),
    ("WITH model_metrics AS (SELECT * FROM messages) SELECT * FROM model_metrics", "named like"),
    # quoting, brackets, backticks, string names, any case
    ('SELECT * FROM "action_log"', "action_log"),
    ("SELECT * FROM [action_log]", "action_log"),
    ("SELECT * FROM `Action_Log`", "Action_Log"),
    ("SELECT * FROM 'messages'", "messages"),
    ("SELECT * FROM MESSAGES", "MESSAGES"),
    # schema-qualified, including an allowed table in another schema
    ("SELECT * FROM main.model_registry", "model_registry"),
    ("SELECT * FROM temp.model_metrics", "temp.model_metrics"),
    ("SELECT * FROM other.main.model_metrics", "other.main.model_metrics"),
    # nested, UNION branches, joins, lateral-ish positions
    ("SELECT * FROM model_metrics WHERE model_name IN (SELECT detail FROM action_log)", "action"),
    ("SELECT (SELECT max(x) FROM (SELECT (SELECT text FROM messages) AS x))", "messages"),
    ("SELECT model_name FROM model_metrics UNION ALL SELECT text FROM messages", "messages"),
    ("SELECT 1 EXCEPT SELECT 2 UNION SELECT detail FROM secrets", "secrets"),
    ("SELECT * FROM model_metrics JOIN agentops_messages ON 1 = 1", "agentops_messages"),
    ("SELECT 1 WHERE 'x' IN messages", "IN table"),
    ("SELECT * FROM model_metrics LIMIT (SELECT count(*) FROM action_log)", "action_log"),
    ("SELECT * FROM json_each((SELECT group_concat(text) FROM messages))", "messages"),
    # the catalog, in every spelling SQLite answers to
    ("SELECT sql FROM sqlite_master", "sqlite_master"),
    ("SELECT sql FROM sqlite_schema", "sqlite_schema"),
    ("SELECT sql FROM sqlite_temp_master", "sqlite_temp_master"),
    ("SELECT * FROM pragma_table_info('action_log')", "pragma_table_info"),
    ("SELECT * FROM pragma_table_list", "pragma_table_list"),
    ("SELECT * FROM model_metrics INDEXED BY sqlite_autoindex_x", "sqlite_autoindex_x"),
    # functions outside the allow-list, named in the refusal
    ("SELECT length(randomblob(900000000))", "randomblob"),
    ("SELECT zeroblob(900000000)", "zeroblob"),
    ("SELECT printf('%.*c', 900000000, 'x')", "printf"),
    ("SELECT load_extension('/tmp/evil')", "load_extension"),
    ("SELECT readfile('/etc/passwd')", "readfile"),
    ("SELECT sqlite_version()", "sqlite_version"),
    ("SELECT hex(model_name) FROM model_metrics", "hex"),
    # recursion, with or without the keyword
    ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT * FROM n", "recurs"),
    ("WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n", "table n"),
    # not a single read
    ("ATTACH DATABASE '/tmp/other.db' AS other", "only SELECT"),
    ("DELETE FROM model_metrics", "only SELECT"),
    ("PRAGMA writable_schema = 1", "only SELECT"),
    ("EXPLAIN SELECT * FROM action_log", "only SELECT"),
    ("SELECT 1; DROP TABLE model_metrics", "exactly one"),
    ("SELECT 1 /* ; */; DELETE FROM model_metrics", "exactly one"),
    ("SELECT 1; -- just a comment\nDELETE FROM model_metrics", "exactly one"),
    ("SELECT ?", "PLACEHOLDER"),
    ("SELECT * FROM model_metrics WHERE", "parse"),
    ("SELECT 'unterminated", "parse"),
    ("SELECT " + "(" * 3000 + "1" + ")" * 3000, "nested too deeply"),
]


@pytest.mark.parametrize(("query", "named"), SQLITE_EVASIONS)
def test_sqlite_evasions_are_refused_with_a_reason(
    store: sa.Engine, query: str, named: str
) -> None:
    with pytest.raises(SQLRefused) as refused:
        run_guarded_sql(store, query)
    assert named.lower() in str(refused.value).lower()


def test_a_refusal_reaches_the_model_as_a_readable_value(store: sa.Engine) -> None:
    result = call_tool(store, "WITH action_log AS (SELECT 1 AS x) SELECT * FROM main.action_log")
    assert result.status == "error"
    assert result.error is not None and "main.action_log" in result.error
    assert "Traceback" not in result.error and SECRET not in result.model_dump_json()


def test_an_unqualified_cte_is_the_cte_not_the_table(store: sa.Engine) -> None:
    result = run_guarded_sql(store, "WITH action_log AS (SELECT 1 AS x) SELECT * FROM action_log")
    assert result["rows"] == [[1]]


def test_a_comment_cannot_smuggle_a_second_statement(store: sa.Engine) -> None:
    # the line comment ends in "*/": rewritten naively as /* ... */ it would close early
    query = "SELECT count(*) FROM model_metrics -- */ ; DELETE FROM model_metrics; /*\n"
    assert "DELETE" not in check_sql(query, "sqlite")
    assert run_guarded_sql(store, query)["rows"] == [[6]]
    assert run_guarded_sql(store, "SELECT count(*) FROM model_metrics")["rows"] == [[6]]


SNOWFLAKE_EVASIONS = [
    ("SHOW TABLES", "only SELECT"),
    ("DESCRIBE TABLE model_metrics", "only SELECT"),
    ("SELECT * FROM INFORMATION_SCHEMA.TABLES", "INFORMATION_SCHEMA.TABLES"),
    ("SELECT * FROM monitoring.public.action_log", "monitoring.public.action_log"),
    ("SELECT * FROM IDENTIFIER('action_log')", "identifier"),
    ("SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))", "result_scan"),
    ("SELECT * FROM model_metrics, TABLE(GENERATOR(ROWCOUNT => 1000000000))", "generator"),
    ("SELECT $1 FROM @monitoring_stage", "PARAMETER"),
    ("SELECT GET_DDL('table', 'action_log')", "get_ddl"),
    ("SELECT SYSTEM$WHITELIST()", "system$whitelist"),
    # quoted lower case is a different table from MODEL_METRICS in Snowflake
    ('SELECT * FROM "model_metrics"', "model_metrics"),
    ("SELECT * FROM model_metrics AT(OFFSET => -60)", "HISTORICALDATA"),
]
POSTGRES_EVASIONS = [
    ("SELECT * FROM pg_catalog.pg_tables", "pg_catalog.pg_tables"),
    ("SELECT * FROM pg_tables", "pg_tables"),
    ("SELECT * FROM information_schema.columns", "information_schema.columns"),
    ("SELECT 'action_log'::regclass::oid", "OBJECTIDENTIFIER"),
    ("SELECT query_to_xml('select * from action_log', true, true, '')", "query_to_xml"),
    ("SELECT pg_catalog.lower(model_name) FROM model_metrics", "DOT"),
    ("SELECT * FROM generate_series(1, 1000000000)", "generate_series"),
    ('SELECT * FROM "MODEL_METRICS"', "MODEL_METRICS"),
    ("SELECT * FROM model_metrics m, LATERAL (SELECT * FROM action_log) x", "action_log"),
    ("SELECT * INTO stolen FROM model_metrics", "only reads"),
    ("SELECT * FROM model_metrics FOR UPDATE", "only reads"),
    ("SELECT version()", "version"),
    ("SELECT pg_sleep(100)", "pg_sleep"),
    ("WITH action_log AS (SELECT * FROM action_log) SELECT * FROM action_log", "action_log"),
]


@pytest.mark.parametrize(
    ("dialect", "query", "named"),
    [("snowflake", q, n) for q, n in SNOWFLAKE_EVASIONS]
    + [("postgresql", q, n) for q, n in POSTGRES_EVASIONS],
)
def test_warehouse_evasions_are_refused_with_a_reason(dialect: str, query: str, named: str) -> None:
    with pytest.raises(SQLRefused) as refused:
        check_sql(query, dialect)
    assert named.lower() in str(refused.value).lower()


def test_outside_sqlite_every_identifier_is_quoted_so_keywords_stay_columns() -> None:
    # PostgreSQL reads a bare `user` as the role name; quoted, it can only be a column
    checked = check_sql("SELECT user, current_role FROM model_metrics", "postgresql")
    assert '(SELECT "user", "current_role" FROM "model_metrics" LIMIT 51)' in checked
    # and a row longer than the cap fails there instead of reaching us (PostgreSQL has no
    # SQLite-like length limit)
    assert f"a result row is over {MAX_VALUE_BYTES} bytes" in checked
    # Snowflake folds bare names to upper case, so that is the case they are quoted in
    assert check_sql("SELECT Model_Name FROM model_metrics AS m", "snowflake") == (
        'SELECT "MODEL_NAME" FROM "MODEL_METRICS" AS "M" LIMIT 51'
    )


def test_snowflake_dialect_is_parsed_as_snowflake() -> None:
    sql = check_sql(
        "SELECT model_name, f1 FROM model_metrics QUALIFY ROW_NUMBER() OVER "
        "(PARTITION BY model_name ORDER BY window_end DESC) = 1",
        "snowflake",
    )
    assert "QUALIFY" in sql and "LIMIT 51" in sql


MONITORING_QUERIES = [
    "SELECT feature_name, psi, lag(psi) OVER (ORDER BY psi) AS previous FROM feature_drift "
    "WHERE psi > 0.2 ORDER BY psi DESC",
    "WITH recent AS (SELECT * FROM model_metrics ORDER BY window_end DESC LIMIT 3) "
    "SELECT model_name, round(avg(f1), 3), count(*) FROM recent GROUP BY model_name",
    "SELECT d.model_version, max(m.window_end) FROM deployments AS d JOIN main.model_metrics "
    "AS m ON m.model_name = d.model_name AND m.window_start >= d.deployed_at GROUP BY 1",
    "SELECT group_concat(feature_name, ','), julianday('2026-11-20') - julianday(min("
    "window_start)), strftime('%H', max(window_end)) FROM feature_drift",
    'SELECT j.value FROM json_each(\'["V14", "V17"]\') AS j WHERE j.value IN '
    "(SELECT feature_name FROM feature_drift)",
    'SELECT "MODEL_NAME", [status] FROM `model_metrics` UNION SELECT model_name, NULL FROM '
    "incidents",
]


@pytest.mark.parametrize("query", MONITORING_QUERIES)
def test_monitoring_queries_run(store: sa.Engine, query: str) -> None:
    result = run_guarded_sql(store, query)
    assert result["rows"] and SECRET not in json.dumps(result)


def test_rows_are_limited_for_unions_too(store: sa.Engine) -> None:
    result = run_guarded_sql(store, "SELECT feature_name, psi FROM feature_drift", max_rows=5)
    assert result["row_count"] == 5 and result["more_rows"] is True
    assert result["columns"] == ["feature_name", "psi"]
    union = (
        "SELECT feature_name FROM feature_drift UNION ALL SELECT feature_name FROM feature_drift"
    )
    assert check_sql(union, "sqlite").endswith("LIMIT 51")
    assert run_guarded_sql(store, union)["row_count"] == 50


def test_long_values_are_clipped_and_the_rendered_result_is_bounded(store: sa.Engine) -> None:
    ten_thousand = f"replace(substr('{'x' * 10}', 1), 'x', '{'y' * 1000}')"
    result = run_guarded_sql(store, f"SELECT {ten_thousand} AS big FROM feature_drift")
    assert result["more_rows"] is True and 0 < result["row_count"] < FEATURES
    assert all(len(row[0]) == MAX_CELL_CHARS for row in result["rows"])
    assert len(json.dumps(result["rows"])) <= MAX_RESULT_BYTES


# Each tries to build a value of about 1 GB out of allowed pieces ({k} is 1,000 characters).
TEN_TIMES = " || ".join(["s"] * 10)
CTE_CHAIN = ", ".join(
    ["c0 AS (SELECT '{k}' AS s)"]
    + [f"c{n} AS (SELECT {TEN_TIMES} AS s FROM c{n - 1})" for n in range(1, 6)]
)
DERIVED_CHAIN = "(SELECT '{k}' AS s) AS t0"
for level in range(1, 6):
    DERIVED_CHAIN = f"(SELECT {TEN_TIMES} AS s FROM {DERIVED_CHAIN}) AS t{level}"
HUGE_VALUES = [
    "SELECT length(replace(replace(replace(substr('xxxxxxxxxx', 1), 'x', '{k}'), 'x', '{k}'), "
    "'x', '{k}'))",
    # chained CTEs and derived tables also grow the planner's copy of the query exponentially
    f"WITH {CTE_CHAIN} SELECT length({TEN_TIMES}) FROM c5",
    f"SELECT length({TEN_TIMES}) FROM {DERIVED_CHAIN}",
    "SELECT length(group_concat('{k}')) FROM feature_drift AS a, feature_drift AS b, "
    "feature_drift AS c, feature_drift AS d",
]


@pytest.mark.parametrize("template", HUGE_VALUES)
def test_a_900_mb_value_is_stopped_not_built(store: sa.Engine, template: str) -> None:
    query = template.format(k="x" * 1000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = call_tool(store, query)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.status == "error"
    assert "too big" in (result.error or "") or "interrupted" in (result.error or "")
    assert grown_mb < 100  # the reported attack peaked at 942 MB


def test_a_runaway_query_is_interrupted_not_hung(store: sa.Engine) -> None:
    runaway = (
        "SELECT count(*) FROM feature_drift AS a, feature_drift AS b, feature_drift AS c, "
        "feature_drift AS d, feature_drift AS e"
    )
    result = call_tool(store, runaway)
    assert result.status == "error" and "interrupted" in (result.error or "")


def test_work_the_instruction_budget_cannot_see_is_stopped_by_the_clock(store: sa.Engine) -> None:
    # one instr() over 256 KiB values is a single VM instruction but a long search; 40 of them
    # stay far inside the instruction budget, so only timeout_s can stop them
    haystack = f"replace(substr('{'a' * 200}', 1) || feature_name, 'a', '{'a' * 1200}')"
    needle = f"replace(substr('{'a' * 100}', 1), 'a', '{'a' * 1200}') || 'b'"
    query = f"SELECT count(*) FROM feature_drift WHERE instr({haystack}, {needle}) > 0"
    with pytest.raises(sa.exc.OperationalError, match="interrupted"):
        run_guarded_sql(store, query, timeout_s=1)


def test_the_connection_comes_back_without_the_tools_limits(store: sa.Engine) -> None:
    with pytest.raises(sa.exc.SQLAlchemyError, match="too big"):
        run_guarded_sql(store, HUGE_VALUES[0].format(k="x" * 1000))
    with store.connect() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        assert raw.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) > MAX_VALUE_BYTES
        assert conn.exec_driver_sql("SELECT length(zeroblob(1000000))").scalar() == 1_000_000
        conn.exec_driver_sql("CREATE TEMP TABLE scratch (x INTEGER)")  # writable again


def test_the_tool_cites_its_query(store: sa.Engine) -> None:
    result = call_tool(store, "SELECT deployment_id FROM deployments ORDER BY deployed_at")
    assert result.status == "ok" and result.evidence_ids == ["query:sql"]
    assert result.data["rows"][0] == ["dep-210"]


def test_the_tool_offers_the_model_exactly_the_tables_the_guard_allows(engine) -> None:
    """A table named in the description but refused by the guard wastes the model's turns."""
    import re

    from agentops.tools.knowledge import sql_tool
    from agentops.tools.sql import ALLOWED_TABLES

    described = sql_tool(engine).description
    named = set(re.findall(r"\b[a-z]+_[a-z_]+\b|\bincidents\b|\bdeployments\b", described))
    offered = named & {"model_registry", *ALLOWED_TABLES}
    assert offered == set(ALLOWED_TABLES)
