"""The project's eval cases are the spec other modules are scored against: each must parse,
load into a fresh store, and state expectations that follow from CONTRACT.md."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from agentops.cases import Case, load_case, read_case
from agentops.clock import parse_instant
from agentops.domain import AlertType, EscalationTarget, RootCauseCategory, Severity
from agentops.store import create_store_engine, init_schema

CASES_DIR = Path(__file__).resolve().parents[3] / "evals" / "cases"
CASE_DIRS = sorted(p for p in CASES_DIR.iterdir() if (p / "case.yaml").is_file())


def _cases() -> list[Case]:
    return [read_case(p) for p in CASE_DIRS]


@pytest.mark.parametrize("folder", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case_parses_and_loads_into_a_fresh_store(folder: Path, tmp_path: Path) -> None:
    case = read_case(folder)
    assert case.id == folder.name, "the id names its folder, so reports point at the file"
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_schema(engine)
    counts = load_case(engine, case)
    assert counts.get("model_metrics", 0) > 0


def test_the_suite_covers_the_contract() -> None:
    cases = _cases()
    assert len(cases) >= 24
    assert len({c.id[:3] for c in cases}) == len(cases), "case numbers are unique"
    categories = {c.expect.root_cause.category for c in cases if c.expect.root_cause}
    assert categories == set(RootCauseCategory)
    alert_types = {t for c in cases for t in (c.expect.alert_types or [])}
    assert alert_types == set(AlertType)
    assert {c.expect.severity for c in cases if c.expect.severity} == set(Severity)
    assert sum(1 for c in cases if c.expect.incident is False) >= 3
    assert any("reject" in c.approvals.values() for c in cases)
    models = {row["model_name"] for c in cases for row in c.tables["model_metrics"]}
    assert len(models) >= 4
    assert {t for c in cases for t in c.tags} >= {"easy", "medium", "hard"}


# ---- the contract's thresholds, restated independently of agentops.detection ---------------
def _latest(rows: list[dict[str, Any]], model: str, now: Any) -> list[dict[str, Any]]:
    mine = [r for r in rows if r["model_name"] == model]
    complete = [r for r in mine if parse_instant(r["window_end"]) <= now]
    if not complete:
        return []
    end = max(parse_instant(r["window_end"]) for r in complete)
    return [r for r in complete if parse_instant(r["window_end"]) == end]


def _expected_alerts(case: Case, model: str) -> set[tuple[str, str]]:
    now = case.now
    alerts: set[tuple[str, str]] = set()
    metrics = case.tables.get("model_metrics", [])
    for m in _latest(metrics, model, now):
        if m.get("f1") is not None and m["f1"] < 0.70:
            alerts.add(("P1", "model_performance"))
        if m.get("status") == "down":
            alerts.add(("P1", "service_down"))
        if m.get("error_rate") is not None and m["error_rate"] > 0.10:
            alerts.add(("P1", "error_rate"))
        p99 = m.get("latency_p99_ms")
        if p99 is not None and p99 > 2000:
            alerts.add(("P2", "latency"))
        elif p99 is not None:
            end = parse_instant(m["window_end"])
            prior = [
                r["latency_p99_ms"]
                for r in metrics
                if r["model_name"] == model
                and parse_instant(r["window_end"]) < end
                and r.get("latency_p99_ms") is not None
            ]
            if len(prior) >= 12 and p99 >= 1.5 * statistics.median(prior):
                alerts.add(("P3", "latency"))
    for d in _latest(case.tables.get("feature_drift", []), model, now):
        psi = d.get("psi")
        if psi is not None and psi > 0.3:
            alerts.add(("P2", "feature_drift"))
        elif psi is not None and psi >= 0.2:
            alerts.add(("P3", "feature_drift"))
    for q in _latest(case.tables.get("data_quality", []), model, now):
        if q.get("null_rate") is not None and q["null_rate"] > 0.10:
            alerts.add(("P2", "data_quality"))
    return alerts


@pytest.mark.parametrize("folder", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_expected_severity_and_alerts_follow_from_the_thresholds(folder: Path) -> None:
    case = read_case(folder)
    models = (
        [case.model]
        if case.model
        else sorted({r["model_name"] for r in case.tables["model_metrics"]})
    )
    per_model = {m: _expected_alerts(case, m) for m in models}
    breaching = {m: a for m, a in per_model.items() if a}
    if case.expect.incident is False:
        assert not breaching
        return
    assert len(breaching) == 1, "a case opens exactly one incident"
    (alerts,) = breaching.values()
    assert case.expect.alert_types is not None
    assert {t for _, t in alerts} == {t.value for t in case.expect.alert_types}
    worst = Severity.highest([Severity(s) for s, _ in alerts])
    assert case.expect.severity == worst


@pytest.mark.parametrize("folder", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_escalation_and_actions_follow_the_category(folder: Path) -> None:
    case = read_case(folder)
    rc = case.expect.root_cause
    if rc is None or rc.category is None:
        return
    routes = {
        RootCauseCategory.upstream_data_change: {EscalationTarget.data_engineering_lead},
        RootCauseCategory.pipeline_failure: {EscalationTarget.data_engineering_lead},
        RootCauseCategory.infrastructure: {EscalationTarget.platform_engineering},
        RootCauseCategory.adversarial: {EscalationTarget.security_team},
    }
    wanted = set(routes.get(rc.category, set()))
    if "reject" in case.approvals.values():
        wanted.add(EscalationTarget.ml_team_lead)
    assert set(case.expect.escalate_to or []) == wanted
    remedy = {
        RootCauseCategory.bad_deployment: "rollback_model",
        RootCauseCategory.upstream_data_change: "retrain_model",
        RootCauseCategory.concept_drift: "retrain_model",
        RootCauseCategory.infrastructure: "scale_infrastructure",
    }.get(rc.category)
    assert case.expect.actions is not None
    include = {a.value for a in case.expect.actions.include}
    if remedy:
        assert remedy in include
        ran = {a.value for a in case.expect.executed or []}
        approved = case.decision_for(remedy) == "approve"  # type: ignore[arg-type]
        assert ran == ({remedy} if approved else set())
    else:
        assert not case.expect.executed
