"""The SQL halves of detection: PSI in the database equals numpy's, the scan issues a fixed
number of queries, and both run on Snowflake (fakesnow) and compile with its dialect."""

from __future__ import annotations

from collections.abc import Iterator

import fakesnow
import numpy as np
import pytest
import sqlalchemy as sa
from snowflake.sqlalchemy import snowdialect

from agentops.detection import ThresholdSet, evaluate_rules
from agentops.detection.psi import categorical_psi, numeric_psi
from agentops.detection.psi_sql import numeric_counts_query, sample_table, sql_psi
from agentops.detection.scan import scan_queries
from agentops.errors import DataError
from agentops.scenarios import seed_store
from agentops.store import Stores, create_store_engine, init_schema
from tests.conftest import NOW
from tests.unit.detection.builders import drift, load, metrics

RNG = np.random.default_rng(5)
REF_X = RNG.normal(0, 1, 1003)
CUR_X = RNG.normal(0.4, 1.3, 497)
REF_X[::97] = np.nan
REF_K = RNG.choice(["a", "b", "c"], 1003)
CUR_K = RNG.choice(["a", "b", "d"], 497)


def _samples(engine: sa.Engine, n: int = 1003) -> tuple[sa.Table, sa.Table]:
    md = sa.MetaData()
    tables = [
        sa.Table(name, md, sa.Column("x", sa.Float), sa.Column("k", sa.String(10)))
        for name in ("psi_ref", "psi_cur")
    ]
    md.create_all(engine)
    with engine.begin() as conn:
        for table, xs, ks in zip(
            tables, (REF_X[:n], CUR_X[: n // 2]), (REF_K[:n], CUR_K[: n // 2]), strict=True
        ):
            rows = [
                {"x": None if np.isnan(x) else float(x), "k": str(k)}
                for x, k in zip(xs, ks, strict=True)
            ]
            conn.execute(table.insert(), rows)
    return tables[0], tables[1]


def _check_psi_matches_numpy(engine: sa.Engine, n: int) -> None:
    ref, cur = _samples(engine, n)
    with engine.connect() as conn:
        got = {r.feature: r for r in sql_psi(conn, ref, cur, ["x", "k"], categorical=["k"])}
    numeric = numeric_psi("x", REF_X[:n], CUR_X[: n // 2])
    assert got["x"].bins == pytest.approx(numeric.bins)
    assert got["x"].current_counts == numeric.current_counts
    assert got["x"].psi == pytest.approx(numeric.psi, rel=1e-9)
    assert got["k"].psi == pytest.approx(
        categorical_psi("k", REF_K[:n], CUR_K[: n // 2]).psi, rel=1e-9
    )


@pytest.fixture
def snow() -> Iterator[sa.Engine]:
    with fakesnow.patch():
        eng = create_store_engine("snowflake://user:secret@account/monitoring/public")
        init_schema(eng)
        yield eng
        eng.dispose()


def test_sql_psi_on_sqlite_equals_numpy(engine) -> None:
    _check_psi_matches_numpy(engine, 1003)


def test_sql_psi_on_snowflake_equals_numpy(snow) -> None:
    # fakesnow transpiles each insert, so a smaller (still uneven) sample
    _check_psi_matches_numpy(snow, 203)


def test_sql_psi_names_a_missing_table_or_column(engine) -> None:
    ref, cur = _samples(engine)
    with engine.connect() as conn:
        with pytest.raises(DataError, match="PSI_NOPE not found"):
            sample_table(conn, "psi_nope")
        with pytest.raises(DataError, match="column 'y' missing"):
            sql_psi(conn, ref, cur, ["y"])


def test_sql_compiles_for_snowflake() -> None:
    md = sa.MetaData()
    ref = sa.Table("ref", md, sa.Column("x", sa.Float))
    cur = sa.Table("cur", md, sa.Column("x", sa.Float))
    psi_sql = str(numeric_counts_query(ref, cur, "x").compile(dialect=snowdialect.dialect()))
    assert "ntile(" in psi_sql.lower() and "lead(" in psi_sql.lower()
    for name, query in scan_queries("snowflake", NOW, ThresholdSet()).items():
        text = str(query.compile(dialect=snowdialect.dialect())).lower()
        assert "max(" in text or "row_number()" in text, name
        assert "recursive" not in text, "the skip scan is SQLite's; Snowflake prunes by time"


def test_detection_on_snowflake_matches_sqlite(snow, engine, stores) -> None:
    for eng in (snow, engine):
        seed_store(Stores(eng, stores.state), NOW, "upstream_data_change", hours=6)
    results = []
    for eng in (snow, engine):
        with eng.connect() as conn:
            results.append(evaluate_rules(conn, NOW))
    assert results[0] == results[1]
    assert {a.type.value for a in results[0]} == {"model_performance", "feature_drift"}


def test_a_pass_costs_the_same_queries_for_1_or_40_models(engine) -> None:
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def count() -> int:
        statements.clear()
        with engine.connect() as conn:
            evaluate_rules(conn, NOW)
        return len(statements)

    load(engine, model_metrics=[metrics("m0")], feature_drift=[drift("V1", 0.5, "m0")])
    one = count()
    many = [f"m{i}" for i in range(1, 40)]
    load(
        engine,
        model_metrics=[metrics(m, hours_ago=h) for m in many for h in range(3)],
        feature_drift=[drift(f"V{f}", 0.5, m) for m in many for f in range(5)],
    )
    assert count() == one
