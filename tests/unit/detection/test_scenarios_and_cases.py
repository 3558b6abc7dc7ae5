"""Detection on the seeded scenarios and on every eval case: the alert types and severity
each one expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.cases import load_case, read_case
from agentops.detection import detect_incidents, evaluate_rules
from agentops.domain import Severity
from agentops.scenarios import seed_store
from agentops.store import create_store_engine, init_schema
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
def test_each_seeded_scenario_raises_its_alerts(engine, scenario) -> None:
    # 48 hours is enough history for the trailing latency median (24 windows)
    seed_store(engine, NOW, scenario, hours=48)
    with engine.connect() as conn:
        alerts = evaluate_rules(conn, NOW, "classifier_v2")
    types, severity = EXPECTED[scenario]
    assert {a.type.value for a in alerts} == types
    highest = Severity.highest([a.severity for a in alerts]).value if alerts else None
    assert highest == severity
    if scenario == "benign":
        assert [(a.component, a.severity.value) for a in alerts] == [("V3", "P3")]
    detection = detect_incidents(engine, NOW)
    assert len(detection.changes) == (1 if types else 0)


def test_there_are_eval_cases() -> None:
    assert len(CASE_DIRS) >= 20


@pytest.mark.parametrize("folder", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_eval_case_gets_its_expected_alerts(folder: Path, tmp_path: Path) -> None:
    case = read_case(folder)
    engine = create_store_engine(f"sqlite:///{tmp_path / 'case.db'}")
    init_schema(engine)
    load_case(engine, case)
    with engine.connect() as conn:
        alerts = evaluate_rules(conn, case.now, case.model)
    expect = case.expect
    if expect.alert_types is not None:
        assert {a.type for a in alerts} == set(expect.alert_types)
    if expect.severity is not None:
        assert alerts and Severity.highest([a.severity for a in alerts]) == expect.severity
    if expect.incident is not None:
        opened = detect_incidents(engine, case.now, case.model).changes
        assert bool(opened) == expect.incident
