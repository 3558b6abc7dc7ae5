"""The store through the real snowflake:// SQLAlchemy path, on fakesnow (Snowflake emulated on
DuckDB), and the store's SQL compiled by the Snowflake dialect without a connection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import fakesnow
import pytest
import sqlalchemy as sa
from snowflake.sqlalchemy import snowdialect

from agentops.cases import load_case, read_case
from agentops.errors import DataError
from agentops.scenarios import SCENARIOS, seed_store
from agentops.store import Stores, create_store_engine, init_schema, open_state
from agentops.store import queries as q
from agentops.store.load import load_tables
from agentops.store.tables import incidents as history
from tests.conftest import NOW

CASE = Path(__file__).parents[2] / "data" / "contract_case.yaml"
# fakesnow transpiles every statement through sqlglot, so loads are slow there: the scenarios
# are loaded with 6 hours of history instead of 14 days (the queries are the same).
HOURS = 6


@pytest.fixture
def snow() -> Iterator[sa.Engine]:
    with fakesnow.patch():
        eng = create_store_engine("snowflake://user:secret@account/monitoring/public")
        init_schema(eng)
        yield eng
        eng.dispose()


def test_schema_on_snowflake_is_idempotent(snow) -> None:
    assert init_schema(snow) == []
    names = {n.lower() for n in sa.inspect(snow).get_table_names()}
    assert {"model_metrics", "feature_drift", "incidents"} <= names
    assert "action_log" not in names, "agentops's own tables live in the state store"


def test_every_scenario_loads_and_reads_back_on_snowflake(snow, settings) -> None:
    stores = Stores(monitoring=snow, state=open_state(settings.resolved_state_url))
    for scenario in sorted(SCENARIOS):
        counts = seed_store(stores, NOW, scenario, hours=HOURS)
        assert counts["model_metrics"] == HOURS
        with snow.connect() as conn:
            latest = q.latest_complete_windows(conn, NOW)
            top = q.top_drifted_features(conn, "classifier_v2", NOW, limit=2)
            quality = q.data_quality_latest(conn, "classifier_v2", NOW)
            deployments = q.deployments_between(
                conn, "classifier_v2", NOW - timedelta(hours=6), NOW
            )
            incidents = conn.execute(sa.select(history.c.incident_id)).all()
        assert latest[0]["window_end"] == NOW, scenario
        assert len(quality) == 29 and len(incidents) == 4
        if scenario == "upstream_data_change":
            assert [t["feature_name"] for t in top] == ["V14", "V17"]
        if scenario == "bad_deployment":
            assert [d["model_version"] for d in deployments] == ["2.4.0"]
        if scenario == "infrastructure":
            assert latest[0]["latency_p99_ms"] == 3400.0


def test_case_file_loads_on_snowflake(snow) -> None:
    case = read_case(CASE)
    load_case(snow, case)
    with snow.connect() as conn:
        assert q.latest_complete_windows(conn, case.now)[0]["recall"] == 0.56
        runs = q.pipeline_runs_between(
            conn, "classifier_v2", case.now - timedelta(hours=6), case.now
        )
    assert "V14 re-encoded" in runs[0]["notes"]


def test_bad_rows_are_refused_before_snowflake_sees_them(snow) -> None:
    row = {
        "model_name": "m",
        "feature_name": "f",
        "window_start": "2026-11-20T10:00:00Z",
        "window_end": "2026-11-20T11:00:00Z",
        "psi": float("nan"),
    }
    with pytest.raises(DataError, match="FEATURE_DRIFT row 1: column 'psi' is NaN"):
        load_tables(snow, {"feature_drift": [row]})


def test_queries_compile_with_the_snowflake_dialect() -> None:
    """The pushed-down SQL is valid Snowflake SQL: compile each query without a connection."""
    dialect = snowdialect.dialect()
    compiled: list[str] = []

    class Recorder:
        dialect = snowdialect.dialect()

        def execute(self, statement, *args, **kwargs):
            compiled.append(str(statement.compile(dialect=dialect)))
            raise _Stop

    conn = Recorder()
    calls = [
        lambda: q.latest_complete_windows(conn, NOW),
        lambda: q.metrics_history(conn, "m", NOW - timedelta(days=1), NOW),
        lambda: q.top_drifted_features(conn, "m", NOW),
        lambda: q.data_quality_latest(conn, "m", NOW),
        lambda: q.deployments_between(conn, "m", NOW - timedelta(days=1), NOW),
        lambda: q.pipeline_runs_between(conn, "m", NOW - timedelta(days=1), NOW),
        lambda: q.list_incidents(conn, model_name="m", status="open"),
    ]
    for call in calls:
        with pytest.raises(_Stop):
            call()
    assert len(compiled) == len(calls)
    assert "max(model_metrics.window_end)" in compiled[0].lower()
    assert all("select" in sql.lower() for sql in compiled)


class _Stop(Exception):
    pass
