"""The store on SQLite: schema, seeded scenarios read back through the queries, case files,
and the errors a user gets for bad input."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.cases import load_case, read_case
from agentops.errors import ConfigError, DataError, StoreError
from agentops.scenarios import SCENARIOS, seed_store
from agentops.store import create_store_engine, init_schema, require_tables
from agentops.store import queries as q
from agentops.store.load import load_tables
from agentops.store.tables import incidents as history_table
from agentops.store.tables import model_metrics
from tests.conftest import NOW

CASE = Path(__file__).parents[2] / "data" / "contract_case.yaml"


def metric_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "model_name": "m1",
        "model_version": "1.0",
        "window_start": "2026-11-20T10:00:00Z",
        "window_end": "2026-11-20T11:00:00Z",
        "f1": 0.9,
        "error_rate": 0.01,
        "request_count": 100,
        "status": "up",
    }
    row.update(overrides)
    return row


def test_init_schema_is_idempotent(settings) -> None:
    eng = create_store_engine(settings.resolved_database_url)
    first = init_schema(eng)
    assert "model_metrics" in first and "incidents" in first
    assert "action_log" not in first, "agentops's own tables live in the state store"
    assert init_schema(eng) == []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_reads_back_through_the_queries(engine, scenario: str, stores) -> None:
    counts = seed_store(stores, NOW, scenario)
    assert counts["model_metrics"] == 14 * 24
    with engine.connect() as conn:
        latest = q.latest_complete_windows(conn, NOW)
        assert [r["model_name"] for r in latest] == ["classifier_v2"]
        assert latest[0]["window_end"] == NOW
        assert latest[0]["window_end"].tzinfo is not None
        history = q.metrics_history(conn, "classifier_v2", NOW - timedelta(days=1), NOW)
        assert len(history) == 24
        drift = q.top_drifted_features(conn, "classifier_v2", NOW, limit=30)
        quality = q.data_quality_latest(conn, "classifier_v2", NOW)
        deployments = q.deployments_between(conn, "classifier_v2", NOW - timedelta(days=1), NOW)
        runs = q.pipeline_runs_between(conn, "classifier_v2", NOW - timedelta(hours=8), NOW)
        assert conn.execute(sa.select(sa.func.count()).select_from(history_table)).scalar() == 4
    assert len(quality) == 29  # V1..V28 and Amount
    # each scenario's signature is what the data shows
    if scenario == "upstream_data_change":
        assert [d["feature_name"] for d in drift[:2]] == ["V14", "V17"]
        assert latest[0]["f1"] < 0.70
        assert any("format change" in (r["notes"] or "") for r in runs)
    elif scenario == "bad_deployment":
        assert [d["model_version"] for d in deployments] == ["2.4.0"]
        assert latest[0]["model_version"] == "2.4.0" and latest[0]["f1"] < 0.70
    elif scenario == "pipeline_failure":
        assert quality[0]["null_rate"] > 0.10
        assert any(r["status"] == "partial" for r in runs)
    elif scenario == "concept_drift":
        assert sum(1 for d in drift if d["psi"] >= 0.2) >= 10
        assert not deployments
    elif scenario == "infrastructure":
        assert latest[0]["latency_p99_ms"] > 2000 and latest[0]["error_rate"] > 0.10
    elif scenario == "adversarial":
        assert latest[0]["recall"] < 0.5 < latest[0]["precision"]
        assert {d["feature_name"] for d in drift[:2]} == {"V4", "V11"}
    elif scenario == "benign":
        assert drift[0]["feature_name"] == "V3" and 0.2 <= drift[0]["psi"] <= 0.3


def test_healthy_seed_has_nothing_near_a_threshold(engine, stores) -> None:
    seed_store(stores, NOW, None)
    with engine.connect() as conn:
        latest = q.latest_complete_windows(conn, NOW)[0]
        top = q.top_drifted_features(conn, "classifier_v2", NOW, limit=1)[0]
        worst_nulls = q.data_quality_latest(conn, "classifier_v2", NOW)[0]
    assert latest["f1"] > 0.8 and latest["status"] == "up"
    assert top["psi"] < 0.2
    assert worst_nulls["null_rate"] < 0.05


def test_reseeding_replaces_rather_than_duplicates(engine, stores) -> None:
    seed_store(stores, NOW, "benign")
    seed_store(stores, NOW, "benign")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(model_metrics)).scalar() == 336


def test_traffic_has_a_daily_cycle(engine, stores) -> None:
    seed_store(stores, NOW, None)
    with engine.connect() as conn:
        rows = q.metrics_history(conn, "classifier_v2", NOW - timedelta(days=7), NOW)
    by_hour: dict[int, list[int]] = {}
    for r in rows:
        by_hour.setdefault(r["window_start"].hour, []).append(r["request_count"])
    mean = {h: sum(v) / len(v) for h, v in by_hour.items()}
    assert max(mean.values()) > 1.8 * min(mean.values())


def test_case_file_loads_and_reads_back(engine) -> None:
    case = read_case(CASE)
    counts = load_case(engine, case)
    assert counts == {
        "model_metrics": 1,
        "feature_drift": 2,
        "data_quality": 1,
        "deployments": 1,
        "pipeline_runs": 1,
        "incidents": 1,
    }
    with engine.connect() as conn:
        assert q.latest_complete_windows(conn, case.now)[0]["f1"] == 0.66
        top = q.top_drifted_features(conn, "classifier_v2", case.now)
        assert [t["feature_name"] for t in top] == ["V14", "V17"]
        row = conn.execute(sa.select(history_table)).mappings().first()
        incident = q.incident_from_row(q.as_row(row))
    assert incident.alert_types == ["model_performance", "feature_drift"]
    assert incident.status == "resolved"  # the case gave resolved_at and no status
    assert case.decision_for("rollback_model") == "reject"
    assert case.decision_for("scale_infrastructure") == "approve"


# ---- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"f1": math.nan}, "MODEL_METRICS row 1: column 'f1' is NaN"),
        ({"error_rate": 1.5}, "column 'error_rate' must be within 0..1, got 1.5"),
        ({"error_rate": -0.1}, "column 'error_rate' must be within 0..1"),
        ({"request_count": -5}, "column 'request_count' must not be negative"),
        ({"colour": "red"}, "unknown column 'colour' in MODEL_METRICS"),
        ({"status": "sideways"}, "column 'status' is 'sideways'; expected one of"),
        ({"window_start": "yesterday"}, "column 'window_start'"),
        ({"model_name": None}, "column 'model_name' is required"),
    ],
)
def test_bad_rows_name_table_and_column(engine, overrides, message) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_tables(engine, {"model_metrics": [metric_row(**overrides)]})


def test_a_bad_row_writes_nothing_from_any_table(engine) -> None:
    good_drift = {
        "model_name": "m1",
        "feature_name": "x",
        "window_start": "2026-11-20T10:00:00Z",
        "window_end": "2026-11-20T11:00:00Z",
        "psi": 0.1,
    }
    duplicate = [metric_row(), metric_row()]  # same primary key: refused by the database
    with pytest.raises(DataError, match="nothing written"):
        load_tables(engine, {"feature_drift": [good_drift], "model_metrics": duplicate})
    with engine.connect() as conn:
        assert q.top_drifted_features(conn, "m1", NOW) == []
        assert q.latest_complete_windows(conn, NOW) == []


def test_unknown_table_is_named(engine) -> None:
    with pytest.raises(DataError, match="unknown table 'model_metricz'"):
        load_tables(engine, {"model_metricz": [metric_row()]})


def test_missing_table_names_it_and_the_fix(tmp_path) -> None:
    eng = create_store_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(DataError, match=r"table MODEL_METRICS missing .* run `agentops db init`"):
        require_tables(eng, ["model_metrics"])


def test_unreachable_store_is_a_clear_error(tmp_path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a folder should be")
    with pytest.raises(StoreError, match="cannot reach the store at sqlite:///"):
        init_schema(create_store_engine(f"sqlite:///{blocked}/agentops.db"))
    with pytest.raises(StoreError, match="cannot reach the store at sqlite:///"):
        init_schema(create_store_engine(f"sqlite:///{blocked}/sub/agentops.db"))


def test_unknown_model_is_named(engine) -> None:
    load_tables(engine, {"model_metrics": [metric_row()]})
    with engine.connect() as conn, pytest.raises(DataError, match=r"unknown model 'nope'.*m1"):
        q.require_model(conn, "nope")


def test_bad_database_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AGENTOPS_DATABASE_URL"):
        create_store_engine("nosuchdialect://x")


def test_case_file_errors_name_the_file_and_key(tmp_path) -> None:
    bad = tmp_path / "case.yaml"
    bad.write_text("id: x\nnow: 2026-11-20T12:00:00Z\nexpect: {severity: P7}\n")
    with pytest.raises(DataError, match=r"case.yaml: expect.severity"):
        read_case(bad)
    bad.write_text("id: [unclosed\n")
    with pytest.raises(DataError, match="not valid YAML"):
        read_case(bad)
    with pytest.raises(DataError, match="no such case file"):
        read_case(tmp_path / "missing")
