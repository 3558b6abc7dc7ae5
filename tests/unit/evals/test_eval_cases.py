"""The project's eval cases are the spec other modules are scored against: each must parse,
load into a fresh store, and state expectations that follow from CONTRACT.md."""

from __future__ import annotations

import statistics
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agentops.cases import Case, load_case, read_case
from agentops.clock import parse_instant
from agentops.domain import (
    ActionType,
    AlertType,
    EscalationTarget,
    IncidentStatus,
    RootCauseCategory,
    Severity,
)
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
    """The alerts of every pass: the first at `now`, then each `later` pass over the rows
    that arrived by then (an open incident absorbs what later passes raise)."""
    tables: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in case.tables.items()}
    alerts = _alerts_at(tables, model, case.now)
    for step in case.later:
        for name, rows in step.tables.items():
            tables.setdefault(name, []).extend(rows)
        alerts |= _alerts_at(tables, model, step.at)
    return alerts


def _alerts_at(
    tables: dict[str, list[dict[str, Any]]], model: str, now: Any
) -> set[tuple[str, str]]:
    alerts: set[tuple[str, str]] = set()
    metrics = tables.get("model_metrics", [])
    mine = [r for r in metrics if r["model_name"] == model]
    ended = [parse_instant(r["window_end"]) for r in mine if parse_instant(r["window_end"]) <= now]
    if ended and now - max(ended) > timedelta(hours=3):
        alerts.add(("P2", "no_data"))
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
    for d in _latest(tables.get("feature_drift", []), model, now):
        psi = d.get("psi")
        if psi is not None and psi > 0.3:
            alerts.add(("P2", "feature_drift"))
        elif psi is not None and psi >= 0.2:
            alerts.add(("P3", "feature_drift"))
    for q in _latest(tables.get("data_quality", []), model, now):
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
        # no category named, so nothing that follows from one may be expected: no remedy
        # planned or run, no category team told; a case that opens nothing expects nothing
        teams = {
            EscalationTarget.data_engineering_lead,
            EscalationTarget.platform_engineering,
            EscalationTarget.security_team,
        }
        assert not set(case.expect.escalate_to or []) & teams
        assert not case.expect.executed
        include = case.expect.actions.include if case.expect.actions else []
        assert not [a for a in include if a.requires_approval]
        if case.expect.incident is False:
            assert rc is None and case.expect.actions is None and case.expect.status is None
            assert not case.expect.escalate_to and not case.expect.severity
        return
    routes = {
        RootCauseCategory.upstream_data_change: {EscalationTarget.data_engineering_lead},
        RootCauseCategory.pipeline_failure: {EscalationTarget.data_engineering_lead},
        RootCauseCategory.infrastructure: {EscalationTarget.platform_engineering},
        RootCauseCategory.adversarial: {EscalationTarget.security_team},
        RootCauseCategory.unknown: {EscalationTarget.ml_team_lead},
    }
    wanted = set(routes.get(rc.category, set()))
    if "reject" in case.approvals.values():
        wanted.add(EscalationTarget.ml_team_lead)
    told = set(case.expect.escalate_to or [])
    over_time = bool(case.later) or "wait" in case.approvals.values()
    if over_time:
        # over time the SLA timers add people (CONTRACT.md): the ML team lead (an approval
        # unanswered, a remediation that failed, no recovery in time) and, for a P1, the
        # engineering manager; the category's people are still there
        assert wanted <= told
        timers = {EscalationTarget.ml_team_lead}
        if case.expect.severity == Severity.P1:
            timers.add(EscalationTarget.engineering_manager)
        assert told - wanted <= timers
    else:
        assert told == wanted
    remedy = {
        RootCauseCategory.bad_deployment: "rollback_model",
        RootCauseCategory.upstream_data_change: "retrain_model",
        RootCauseCategory.concept_drift: "retrain_model",
        RootCauseCategory.infrastructure: "scale_infrastructure",
    }.get(rc.category)
    if not over_time:
        assert case.expect.actions is not None and case.expect.executed is not None
    include = {a.value for a in case.expect.actions.include} if case.expect.actions else set()
    excluded = {a.value for a in case.expect.actions.exclude} if case.expect.actions else set()
    ran = {a.value for a in case.expect.executed or []}
    if not remedy:
        assert not ran and not {a for a in include if ActionType(a).requires_approval}
        return
    assert remedy not in excluded
    if case.expect.actions is not None:
        assert remedy in include
    if case.expect.executed is None:
        return
    decision = case.decision_for(remedy)  # type: ignore[arg-type]
    if decision != "approve":  # rejected or never answered: nothing runs
        assert ran == set()
        return
    if over_time and not ran:
        # approved, yet the executor could not run it (e.g. no previous version to roll back
        # to): a failed remediation hands the incident to a person
        assert EscalationTarget.ml_team_lead in told
        assert case.expect.status == [IncidentStatus.escalated]
        return
    assert ran == {remedy}
