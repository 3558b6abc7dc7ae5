"""An approval request carries what the approver most needs, from the monitoring tables: the
rollback target's metrics and whether its feature schema matches today's, the retraining
data (window, rows, label maturity), and load against capacity for scaling."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agentops.actions.approval_facts import approval_facts
from agentops.actions.formats import format_approval_request
from agentops.detection.thresholds import Thresholds
from agentops.domain import Action, ActionFacts, ActionType, Diagnosis, RootCauseCategory
from agentops.graph.approval import approval_payload
from agentops.params import RetrainParams, RollbackParams, ScaleParams
from agentops.store import Stores
from agentops.store.load import load_tables

from .builders import MODEL, NOW, drift_incident

HOUR = timedelta(hours=1)
INCIDENT = drift_incident()
FEATURES = ["V14", "V17", "amount"]


def _window(end: datetime, version: str, f1: float, **extra: Any) -> dict[str, Any]:
    return {
        "model_name": MODEL,
        "model_version": version,
        "window_start": end - HOUR,
        "window_end": end,
        "f1": f1,
        "precision": extra.get("precision", f1 + 0.04),
        "recall": extra.get("recall", f1 - 0.04),
        "error_rate": extra.get("error_rate", 0.01),
        "latency_p50_ms": extra.get("p50", 40),
        "latency_p99_ms": extra.get("p99", 400),
        "request_count": extra.get("requests", 10_000),
        "status": extra.get("status", "up"),
    }


def _drift(end: datetime, features: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "model_name": MODEL,
            "feature_name": f,
            "window_start": end - HOUR,
            "window_end": end,
            "psi": 0.05,
        }
        for f in features
    ]


def _facts(store: Stores, action: Action) -> ActionFacts:
    with store.monitoring.connect() as conn:
        facts = approval_facts(conn, INCIDENT, action, now=NOW, thresholds=Thresholds())
    assert facts is not None
    return facts


def _seed_releases(store: Stores, today: list[str]) -> None:
    """2.2.0 served until 8 h ago (its last window unhealthy), then 2.3.0, which is bad."""
    metrics = [_window(NOW - h * HOUR, "2.2.0", 0.80 + h / 100) for h in range(9, 14)]
    metrics.append(_window(NOW - 8 * HOUR, "2.2.0", 0.60))  # not healthy: F1 below 0.70
    metrics += [_window(NOW - h * HOUR, "2.3.0", 0.62) for h in range(0, 8)]
    drift = [row for h in range(8, 14) for row in _drift(NOW - h * HOUR, FEATURES)]
    drift += [row for h in range(0, 8) for row in _drift(NOW - h * HOUR, today)]
    load_tables(store.monitoring, {"model_metrics": metrics, "feature_drift": drift})


def _rollback() -> Action:
    params = RollbackParams(from_version="2.3.0", to_version="2.2.0")
    return Action(type=ActionType.rollback_model, target=MODEL, params=params.wire())


def test_a_rollback_shows_the_targets_last_healthy_windows_and_a_matching_schema(
    store: Stores,
) -> None:
    _seed_releases(store, today=FEATURES)
    facts = _facts(store, _rollback())
    # the last three healthy windows of 2.2.0 end 9, 10 and 11 h ago: F1 0.89, 0.90, 0.91
    assert facts.lines[0] == (
        "Target 2.2.0 (the version the evidence names) in its last 3 healthy windows "
        "(2026-11-20 00:00 → 2026-11-20 03:00): F1 0.900, precision 0.940, recall 0.860"
    )
    assert facts.lines[1].startswith("Serving now: 2.3.0, F1 0.620")
    assert facts.lines[2] == "Feature schema: 2.2.0 saw the same 3 features as today's"
    assert facts.data["schema_match"] is True


def test_a_rollback_target_that_never_saw_todays_features_says_so(store: Stores) -> None:
    _seed_releases(store, today=["V14", "V17", "merchant_risk_code"])
    facts = _facts(store, _rollback())
    assert facts.data["schema_match"] is False
    assert facts.lines[2] == (
        "Feature schema: differs from today's: today's data has merchant_risk_code that "
        "2.2.0 never saw; amount that 2.2.0 used no longer arrive"
    )


def test_a_rollback_target_without_metrics_is_unknown_not_good(store: Stores) -> None:
    params = RollbackParams(to_version="1.0.0").wire()
    facts = _facts(store, Action(type=ActionType.rollback_model, target=MODEL, params=params))
    assert "no MODEL_METRICS windows; how it performs is unknown" in facts.lines[0]


def test_a_retrain_shows_its_window_rows_and_label_maturity(store: Stores) -> None:
    # daily-sized windows over 40 days; 1,000 requests on day d before now
    metrics = [
        {**_window(NOW - d * 24 * HOUR, "2.3.0", 0.9), "window_start": NOW - (d + 1) * 24 * HOUR}
        | {"request_count": 1000 * d}
        for d in range(0, 40)
    ]
    load_tables(store.monitoring, {"model_metrics": metrics})
    params = RetrainParams(mode="recent_weighted", label_delay_hours=21 * 24, recent_weight=3)
    action = Action(type=ActionType.retrain_model, target=MODEL, params=params.wire())
    facts = _facts(store, action)
    # the window ends 21 days ago and spans 28: the days ending 21..48 days ago, of which
    # 21..39 have metrics
    assert facts.data["train_end"] == "2026-10-30T12:00:00Z"
    assert facts.data["requests"] == sum(1000 * d for d in range(21, 40))
    assert facts.lines == [
        "Training window: trains on 2026-10-02 12:00 → 2026-10-30 12:00 (labels mature after "
        "21 d); 2026-10-23 12:00 → 2026-10-30 12:00 weighted ×3",
        f"Rows: {sum(1000 * d for d in range(21, 40)):,} requests in 19 MODEL_METRICS windows "
        "of the training window (excluded spans left out)",
        "Label maturity: labels of classifier_v2 take 21 d (policy `label_delay`); the window "
        "ends 2026-10-30 12:00, so every label trained on has matured",
    ]


def test_a_scale_request_shows_load_against_capacity(store: Stores) -> None:
    before = [_window(NOW - h * HOUR, "2.3.0", 0.9) for h in range(3, 12)]
    now = [_window(NOW - h * HOUR, "2.3.0", 0.9, requests=16_000, p99=2600) for h in (0, 1)]
    load_tables(store.monitoring, {"model_metrics": [*before, *now]})
    action = Action(type=ActionType.scale_infrastructure, target=MODEL, params=ScaleParams().wire())
    facts = _facts(store, action)
    assert facts.lines[0].endswith(
        "vs 10,000 at baseline (median of 9 windows before the breach): ×1.60"
    )
    assert facts.lines[1].startswith("Latency: p99 2,600 ms vs 400 ms: ×6.50")
    assert facts.lines[2].startswith("Capacity: load is ×1.60 what the current capacity served")


def test_the_approval_request_and_its_slack_text_carry_the_evidence(store: Stores) -> None:
    _seed_releases(store, today=FEATURES)
    action = _rollback().model_copy(update={"facts": _facts(store, _rollback())})
    diagnosis = Diagnosis(
        category=RootCauseCategory.bad_deployment, root_cause="2.3.0 broke F1", confidence=0.9
    )
    state: Any = {
        "incident": INCIDENT.model_dump(mode="json"),
        "diagnosis": diagnosis.model_dump(mode="json"),
        "evidence": [],
    }
    payload = approval_payload(state, action, ("alice",), [])
    assert payload["facts"]["lines"] == action.facts.lines  # type: ignore[union-attr]
    assert payload["facts"]["as_of"] == "2026-11-20T12:00:00Z"
    assert "- Target 2.2.0 (the version the evidence names)" in payload["description"]
    text = format_approval_request(INCIDENT, action, payload)
    assert "Facts for this decision (monitoring tables as of 2026-11-20T12:00:00Z):" in text
    assert "• Target 2.2.0 (the version the evidence names) in its last 3 healthy" in text
    assert "• Feature schema: 2.2.0 saw the same 3 features as today's" in text


def test_the_request_lists_every_parameter_the_executor_reads() -> None:
    action = Action(type=ActionType.retrain_model, target=MODEL, params={"lookback_days": 14})
    state: Any = {"incident": INCIDENT.model_dump(mode="json"), "evidence": []}
    payload = approval_payload(state, action, ("alice",), [])
    shown = payload["action"]["params"]
    assert shown["lookback_days"] == 14 and shown["mode"] == "exclude_bad_window"
    assert shown["label_delay_hours"] == 0  # a default is shown, not left for a guess
    assert "label_delay_hours=0.0" in format_approval_request(INCIDENT, action, payload)
