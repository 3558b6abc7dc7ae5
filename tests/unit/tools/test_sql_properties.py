"""Property tests for the SQL guard: SELECTs generated from a small grammar of table references
(allowed and forbidden, any case, quoted, bracketed, backticked, `main.`-qualified) placed in
FROM, joins, subqueries, UNION branches, IN lists, scalar subqueries and CTEs, with allowed and
forbidden functions. Forbidden tables are refused; allowed ones run on a real SQLite store;
nothing ever returns the marker the forbidden tables hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agentops.tools import SQLRefused, check_sql, run_guarded_sql
from agentops.tools.sql import ALLOWED_TABLES
from tests.unit.tools.test_sql import FORBIDDEN_TABLES, SECRET, build_guarded_store

CATALOGS = ("sqlite_master", "sqlite_schema", "sqlite_temp_master")
FORBIDDEN = (*FORBIDDEN_TABLES, *CATALOGS)
# {c} is a column reference; every contract table (and every forbidden one here) has model_name
ALLOWED_EXPRESSIONS = (
    *("{c}", "lower({c})", "upper({c})", "length({c})", "substr({c}, 1, 3)", "trim({c})"),
    *("replace({c}, 'a', 'b')", "coalesce({c}, '-')", "nullif({c}, '')", "instr({c}, '_')"),
    *("{c} || '!'", "typeof({c})", "iif({c} IS NULL, 0, 1)", "ifnull({c}, '')", "count(*)"),
    *("max({c})", "min({c})", "count(DISTINCT {c})", "group_concat({c}, ',')"),
    "round(avg(length({c})), 2)",
)
FORBIDDEN_FUNCTIONS = (
    *("randomblob(8)", "zeroblob(8)", "printf('%s', {c})", "hex({c})", "sqlite_version()"),
    *("load_extension('x')", "random()", "quote({c})", "unicode({c})", "char(65)"),
    *("sqlite_source_id()", "changes()", "last_insert_rowid()", "likelihood(1, 0.5)"),
)
SETTINGS = settings(max_examples=150, deadline=None, database=None, derandomize=True)


@dataclass
class Generated:
    sql: str = ""
    tables: set[str] = field(default_factory=set)  # the real tables the query reads
    forbidden_function: str | None = None
    cte_named_like: str | None = None  # a CTE given a table's name


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = build_guarded_store(tmp_path_factory.mktemp("sql_properties") / "store.db")
    yield engine
    engine.dispose()


@st.composite
def spelled(draw: st.DrawFn, name: str) -> str:
    """`name` as SQLite accepts it: any case, maybe quoted, maybe `main.`-qualified."""
    cased = "".join(
        ch.upper() if draw(st.booleans()) else ch.lower() for ch in name
    )  # SQLite ignores case in every form
    quoted = draw(st.sampled_from(["{}", '"{}"', "[{}]", "`{}`", "'{}'"])).format(cased)
    schema = draw(st.sampled_from(["", "", "main.", "MAIN.", '"main".']))
    return schema + quoted


@st.composite
def expression(draw: st.DrawFn, column: str, with_forbidden: bool) -> tuple[str, str | None]:
    """An allowed expression over `column`, or (one time in four) a forbidden function."""
    if with_forbidden and draw(st.integers(0, 3)) == 0:
        chosen = draw(st.sampled_from(FORBIDDEN_FUNCTIONS))
        return chosen.format(c=column), chosen.split("(")[0]
    return draw(st.sampled_from(ALLOWED_EXPRESSIONS)).format(c=column), None


@st.composite
def source(draw: st.DrawFn, names: tuple[str, ...], alias: str, out: Generated) -> str:
    """A FROM item aliased `alias` that reads one table: directly, in (nested) subqueries or
    through a CTE-free derived table."""
    table = draw(st.sampled_from(names))
    out.tables.add(table)
    ref = draw(spelled(table))
    shape = draw(
        st.sampled_from(["{r}", "(SELECT * FROM {r})", "(SELECT * FROM (SELECT * FROM {r}))"])
    )
    return f"{shape.format(r=ref)} AS {alias}"


@st.composite
def query(draw: st.DrawFn, names: tuple[str, ...], *, risky: bool) -> Generated:
    """A SELECT reading tables drawn from `names`; `risky` adds forbidden functions and CTEs
    named like a table (read qualified, which is the table, or unqualified, which is the CTE)."""
    out = Generated()
    first, out.forbidden_function = draw(expression("t1.model_name", risky))
    from_1 = draw(source(names, "t1", out))
    shapes = ["plain", "join", "union", "in", "scalar", "cte"]
    shape = draw(st.sampled_from([*shapes, "shadow", "shadow_qualified"] if risky else shapes))
    if shape in ("join", "union"):
        from_2 = draw(source(names, "t2", out))
        out.sql = (
            f"SELECT {first}, t2.model_name FROM {from_1} JOIN {from_2} ON 1 = 1"
            if shape == "join"
            else f"SELECT {first} FROM {from_1} UNION ALL SELECT t2.model_name FROM {from_2}"
        )
    elif shape in ("in", "scalar"):
        inner = draw(st.sampled_from(names))
        out.tables.add(inner)
        subquery = f"(SELECT max(model_name) FROM {draw(spelled(inner))})"
        out.sql = (
            f"SELECT {first} FROM {from_1} WHERE t1.model_name IN {subquery}"
            if shape == "in"
            else f"SELECT {subquery}, {first} FROM {from_1}"
        )
    elif shape == "cte":
        body = from_1.removesuffix(" AS t1")
        out.sql = f"WITH w AS (SELECT * FROM {body}) SELECT {first} FROM w AS t1"
    elif shape.startswith("shadow"):
        # named unlike the table t1 reads, which an unqualified t1 would then mean instead
        out.cte_named_like = draw(st.sampled_from([n for n in names if n not in out.tables]))
        target = out.cte_named_like
        if shape == "shadow_qualified":  # main.x is the table x, whatever the CTEs are called
            out.tables.add(target)
            target = f"main.{target}"
        out.sql = (
            f"WITH {out.cte_named_like} AS (SELECT 'from-the-cte' AS model_name) "
            f"SELECT {first}, t2.model_name FROM {from_1}, {target} AS t2"
        )
    else:
        out.sql = f"SELECT {first} FROM {from_1}"
    return out


@SETTINGS
@given(data=st.data())
def test_a_query_reading_a_forbidden_table_is_refused_naming_it(data: st.DataObject) -> None:
    generated = data.draw(query((*sorted(ALLOWED_TABLES), *FORBIDDEN), risky=True))
    forbidden = generated.tables - ALLOWED_TABLES
    assume(forbidden)
    with pytest.raises(SQLRefused) as refused:
        check_sql(generated.sql, "sqlite")
    message = str(refused.value).lower()
    named = forbidden | {generated.cte_named_like or ""}
    named |= {generated.forbidden_function or ""}
    assert any(name and name in message for name in named), (generated.sql, message)


@SETTINGS
@given(data=st.data())
def test_a_query_reading_only_allowed_tables_and_functions_runs(
    store: sa.Engine, data: st.DataObject
) -> None:
    generated = data.draw(query(tuple(sorted(ALLOWED_TABLES)), risky=False))
    result = run_guarded_sql(store, generated.sql)
    assert result["columns"] and SECRET not in json.dumps(result)


@SETTINGS
@given(data=st.data())
def test_no_generated_query_returns_what_a_forbidden_table_holds(
    store: sa.Engine, data: st.DataObject
) -> None:
    generated = data.draw(query((*sorted(ALLOWED_TABLES), *FORBIDDEN), risky=True))
    try:
        result = run_guarded_sql(store, generated.sql)
    except SQLRefused as refused:
        # refused only for a reason: a forbidden table or function, or a CTE named like a table
        reasons = generated.tables - ALLOWED_TABLES or generated.forbidden_function
        assert reasons or generated.cte_named_like, (generated.sql, str(refused))
        return
    assert generated.forbidden_function is None, generated.sql
    assert not generated.tables - ALLOWED_TABLES, generated.sql
    assert SECRET not in json.dumps(result)
