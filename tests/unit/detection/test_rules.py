"""The runbook's thresholds, each at and around its boundary, on the latest complete window."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from agentops.detection import Thresholds, ThresholdSet, evaluate_rules, parse_threshold_section
from agentops.domain import AlertType, Severity
from agentops.errors import DataError
from tests.conftest import NOW
from tests.unit.detection.builders import drift, load, metrics, quality


def _alerts(engine: sa.Engine, model: str | None = None, thresholds: ThresholdSet | None = None):
    with engine.connect() as conn:
        return evaluate_rules(conn, NOW, model, thresholds)


def _kinds(engine: sa.Engine) -> set[tuple[str, str, str]]:
    return {(a.type.value, a.severity.value, a.component) for a in _alerts(engine)}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"f1": 0.6999}, {("model_performance", "P1", "model")}),
        ({"f1": 0.70}, set()),
        ({"f1": 0.7001}, set()),
        ({"error_rate": 0.1001}, {("error_rate", "P1", "model")}),
        ({"error_rate": 0.10}, set()),
        ({"status": "down"}, {("service_down", "P1", "model")}),
        ({"status": "degraded"}, set()),
        ({"latency_p99_ms": 2000.5}, {("latency", "P2", "model")}),
        ({"latency_p99_ms": 2000.0}, set()),
    ],
)
def test_model_metric_thresholds_at_their_boundaries(engine, values, expected) -> None:
    load(engine, model_metrics=[metrics(**values)])
    assert _kinds(engine) == expected


@pytest.mark.parametrize(
    ("psi", "expected"),
    [
        (0.1999, set()),
        (0.2, {("feature_drift", "P3", "V1")}),
        (0.3, {("feature_drift", "P3", "V1")}),
        (0.3001, {("feature_drift", "P2", "V1")}),
    ],
)
def test_drift_thresholds_at_their_boundaries(engine, psi, expected) -> None:
    load(engine, model_metrics=[metrics()], feature_drift=[drift("V1", psi)])
    assert _kinds(engine) == expected


@pytest.mark.parametrize(
    ("null_rate", "expected"),
    [(0.10, set()), (0.1001, {("data_quality", "P2", "V1")}), (0.0999, set())],
)
def test_null_rate_threshold_at_its_boundary(engine, null_rate, expected) -> None:
    load(engine, model_metrics=[metrics()], data_quality=[quality("V1", null_rate)])
    assert _kinds(engine) == expected


def test_a_window_without_traffic_breaches_nothing(engine) -> None:
    empty = {k: None for k in ("f1", "precision", "recall", "error_rate", "latency_p99_ms")}
    load(
        engine,
        model_metrics=[metrics(hours_ago=h) for h in range(1, 6)]
        + [metrics(request_count=0, **empty)],
        feature_drift=[drift("V1", None)],
        data_quality=[quality("V1", None)],
    )
    assert _alerts(engine) == []


def test_schema_errors_and_out_of_range_are_evidence_not_alerts(engine) -> None:
    load(
        engine,
        model_metrics=[metrics()],
        data_quality=[quality("V1", 0.0, schema_errors=500, out_of_range_rate=0.9)],
    )
    assert _alerts(engine) == []


def test_only_the_latest_complete_window_counts(engine) -> None:
    load(
        engine,
        model_metrics=[
            metrics(hours_ago=2, f1=0.5),  # an older breach that has recovered
            metrics(hours_ago=1),
            metrics(hours_ago=-1, f1=0.4),  # still open at now: not complete
        ],
        feature_drift=[drift("V1", 0.9, hours_ago=1), drift("V1", 0.05, hours_ago=0)],
    )
    assert _alerts(engine) == []


def test_each_table_uses_its_own_latest_window(engine) -> None:
    # FEATURE_DRIFT lags MODEL_METRICS by a window: its latest row still counts
    load(engine, model_metrics=[metrics()], feature_drift=[drift("V9", 0.45, hours_ago=1)])
    [alert] = _alerts(engine)
    assert (alert.component, alert.severity, alert.value) == ("V9", Severity.P2, 0.45)
    assert alert.window_end == NOW - timedelta(hours=1)


def _latency_history(p99s: list[float], latest: float) -> list[dict]:
    history = [metrics(hours_ago=i + 1, latency_p99_ms=v) for i, v in enumerate(p99s)]
    return [*history, metrics(latency_p99_ms=latest)]


@pytest.mark.parametrize(
    ("latest", "expected"),
    [(449.0, set()), (450.0, {("latency", "P3", "model")}), (2000.0, {("latency", "P3", "model")})],
)
def test_minor_latency_increase_against_the_trailing_median(engine, latest, expected) -> None:
    # median of the earlier windows is 300 ms; the outlier 900 does not move it
    load(engine, model_metrics=_latency_history([290, 300, 310, 900, 300], latest))
    assert _kinds(engine) == expected


def test_no_minor_latency_alert_without_history(engine) -> None:
    load(engine, model_metrics=[metrics(latency_p99_ms=1900.0)])
    assert _alerts(engine) == []


def test_latency_above_two_seconds_is_p2_not_also_p3(engine) -> None:
    load(engine, model_metrics=_latency_history([300] * 5, 2500.0))
    [alert] = _alerts(engine)
    assert (alert.type, alert.severity, alert.threshold) == (AlertType.latency, Severity.P2, 2000)


def test_alerts_are_sorted_most_severe_first(engine) -> None:
    load(
        engine,
        model_metrics=[metrics("a", latency_p99_ms=2500.0), metrics("b", f1=0.5)],
        feature_drift=[drift("V2", 0.25, "a"), drift("V1", 0.25, "a"), drift("V3", 0.5, "b")],
    )
    got = [(a.severity.value, a.type.value, a.model_name, a.component) for a in _alerts(engine)]
    assert got == [
        ("P1", "model_performance", "b", "model"),
        ("P2", "feature_drift", "b", "V3"),
        ("P2", "latency", "a", "model"),
        ("P3", "feature_drift", "a", "V1"),
        ("P3", "feature_drift", "a", "V2"),
    ]


def test_model_filter_and_per_model_thresholds(engine) -> None:
    load(
        engine,
        model_metrics=[metrics("a", f1=0.72), metrics("b", f1=0.72)],
        feature_drift=[drift("V1", 0.32, "a"), drift("V1", 0.32, "b")],
    )
    strict = Thresholds(f1_p1=0.75, psi_p2=0.35)
    rules = ThresholdSet(models={"a": strict})
    assert {
        (a.model_name, a.type.value, a.severity.value) for a in _alerts(engine, None, rules)
    } == {
        ("a", "model_performance", "P1"),
        ("a", "feature_drift", "P3"),
        ("b", "feature_drift", "P2"),
    }
    assert {a.model_name for a in _alerts(engine, "b", rules)} == {"b"}


def test_data_older_than_the_lookback_raises_no_value_alert_but_no_data(engine) -> None:
    load(engine, model_metrics=[metrics(hours_ago=200, f1=0.3)])
    [silent] = _alerts(engine)
    assert (silent.type, silent.severity) == (AlertType.no_data, Severity.P2)
    wide = ThresholdSet(default=Thresholds(lookback_hours=300))
    types = {a.type for a in _alerts(engine, None, wide)}
    assert types == {AlertType.model_performance, AlertType.no_data}


@pytest.mark.parametrize(
    ("hours_silent", "stale"),
    [(2.0, False), (3.0, False), (3.25, True), (6.0, True), (72.0, True), (192.0, True)],
)
def test_no_data_fires_once_the_newest_window_is_older_than_stale_after(
    engine, hours_silent, stale
) -> None:
    """The newest complete window ended `hours_silent` before now; silence past 3 h pages."""
    load(engine, model_metrics=[metrics(hours_ago=hours_silent)])
    found = [a for a in _alerts(engine) if a.type is AlertType.no_data]
    assert bool(found) == stale
    if stale:
        assert found[0].value == round(hours_silent, 1)


def test_stale_after_is_set_per_model_in_the_policy_file(engine) -> None:
    load(engine, model_metrics=[metrics("batch", hours_ago=10), metrics("online", hours_ago=10)])
    rules = parse_threshold_section({"models": {"batch": {"stale_after": "1d"}}})
    assert [a.model_name for a in _alerts(engine, None, rules)] == ["online"]


def test_unknown_model_is_a_data_error_naming_it(engine) -> None:
    load(engine, model_metrics=[metrics("known")])
    with pytest.raises(DataError, match=r"unknown model 'ghost'.*known"):
        _alerts(engine, "ghost")


def test_missing_table_is_a_data_error_naming_it(tmp_path) -> None:
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE TABLE model_metrics (model_name TEXT)"))
    with pytest.raises(DataError, match=r"DATA_QUALITY, FEATURE_DRIFT missing.*db init"):
        _alerts(eng)
