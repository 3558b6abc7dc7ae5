"""Detection on the seeded scenarios and on every eval case: the alert types and severity
each one expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.cases import load_case, read_case
from agentops.detection import detect_incidents, evaluate_rules
from agentops.domain import Severity
from agentops.scenarios import seed_store
from agentops.store.load import load_tables
from tests.conftest import NOW

EXPECTED = {
    "upstream_data_change": ({"model_performance", "feature_drift"}, "P1"),
    "bad_deployment": ({"model_performance"}, "P1"),
    "pipeline_failure": ({"data_quality"}, "P2"),
    "concept_drift": ({"model_performance", "feature_drift"}, "P1"),
    "infrastructure": ({"latency", "error_rate"}, "P1"),
    "adversarial": ({"model_performance", "feature_drift"}, "P1"),
    "benign": ({"feature_drift"}, "P3"),
    None: (set(), None),
}
CASES_DIR = Path(__file__).resolve().parents[3] / "evals" / "cases"
CASE_DIRS = sorted(p for p in CASES_DIR.iterdir() if (p / "case.yaml").is_file())


@pytest.mark.parametrize("scenario", list(EXPECTED), ids=[str(s) for s in EXPECTED])
def test_each_seeded_scenario_raises_its_alerts(engine, scenario, stores) -> None:
    # 48 hours is enough history for the trailing latency median (24 windows)
    seed_store(stores, NOW, scenario, hours=48)
    with engine.connect() as conn:
        alerts = evaluate_rules(conn, NOW, "classifier_v2")
    types, severity = EXPECTED[scenario]
    assert {a.type.value for a in alerts} == types
    highest = Severity.highest([a.severity for a in alerts]).value if alerts else None
    assert highest == severity
    if scenario == "benign":
        assert [(a.component, a.severity.value) for a in alerts] == [("V3", "P3")]
    detection = detect_incidents(stores, NOW)
    assert len(detection.changes) == (1 if types else 0)


def test_there_are_eval_cases() -> None:
    assert len(CASE_DIRS) >= 20


@pytest.mark.parametrize("folder", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_eval_case_gets_its_expected_alerts(folder: Path, stores) -> None:
    """Each pass of the case (its `now`, then every `later` step with the rows that arrived
    by then) is detected; the incident holds what all of them raised."""
    case = read_case(folder)
    load_case(stores.monitoring, case)
    alerts, opened = [], []
    for clock, rows in [(case.now, {}), *((step.at, step.tables) for step in case.later)]:
        if rows:
            load_tables(stores.monitoring, rows)
        with stores.monitoring.connect() as conn:
            alerts += evaluate_rules(conn, clock, case.model)
        opened += [c for c in detect_incidents(stores, clock, case.model).changes if c.new]
    expect = case.expect
    if expect.alert_types is not None:
        assert {a.type for a in alerts} == set(expect.alert_types)
    if expect.severity is not None:
        assert alerts and Severity.highest([a.severity for a in alerts]) == expect.severity
    if expect.incident is not None:
        assert bool(opened) == expect.incident
