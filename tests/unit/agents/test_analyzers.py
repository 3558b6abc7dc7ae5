"""The deterministic analyzers: every seeded scenario diagnosed and planned per CONTRACT.md."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
import sqlalchemy as sa

from agentops.agents import diagnose_by_rules, gather_evidence, plan_by_rules, rank_hypotheses
from agentops.domain import ActionType, Alert, AlertType, RootCauseCategory, Severity
from agentops.settings import Settings
from agentops.store.load import load_tables
from tests.unit.agents.conftest import NOW, World, incident_for

A = ActionType
EXPECTED = {
    # scenario: (mentions in the root cause, approval-required actions, escalations)
    "upstream_data_change": (["V14"], {A.retrain_model}, {"data_engineering_lead"}),
    "bad_deployment": (["2.4.0"], {A.rollback_model}, set()),
    "pipeline_failure": (["transactions_etl"], set(), {"data_engineering_lead"}),
    "concept_drift": ([], {A.retrain_model}, set()),
    "infrastructure": ([], {A.scale_infrastructure}, {"platform_engineering"}),
    "adversarial": (["V4", "V11"], set(), {"security_team"}),
    "benign": (["V3"], set(), set()),
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_scenario_gets_its_category_and_a_root_cause_naming_the_culprit(
    worlds: dict[str, World], scenario: str
) -> None:
    world = worlds[scenario]
    diagnosis = diagnose_by_rules(world.incident, world.evidence, "diagnosed by rules; test")
    mentions, _, escalations = EXPECTED[scenario]
    assert diagnosis.category == RootCauseCategory(scenario)
    for word in mentions:
        assert word.lower() in diagnosis.root_cause.lower()
    known = {e.id for e in world.evidence}
    assert diagnosis.evidence_ids and set(diagnosis.evidence_ids) <= known
    assert {t.value for t in diagnosis.escalate_to} == escalations
    assert diagnosis.diagnosed_by == "rules"
    assert diagnosis.note == "diagnosed by rules; test"


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_scenario_plan_has_only_its_remedy_and_notifies_first(
    worlds: dict[str, World], scenario: str
) -> None:
    world = worlds[scenario]
    diagnosis = diagnose_by_rules(world.incident, world.evidence, "")
    plan = plan_by_rules(world.incident, diagnosis, evidence=world.evidence)
    _, remedies, escalations = EXPECTED[scenario]
    assert {a.type for a in plan.actions if a.requires_approval} == remedies
    assert {a.target for a in plan.actions if a.type == A.escalate} == escalations
    first = plan.actions[0]
    assert first.type == A.notify_slack and first.target == "#ml-alerts"
    # automated actions all run before any approval-required one
    kinds = [a.requires_approval for a in plan.actions]
    assert kinds == sorted(kinds)
    for action in plan.actions:
        if action.type in (A.rollback_model, A.retrain_model, A.log_metrics):
            assert action.target == "classifier_v2"


def test_rollback_goes_back_to_the_version_the_bad_deployment_replaced(
    worlds: dict[str, World],
) -> None:
    world = worlds["bad_deployment"]
    plan = plan_by_rules(
        world.incident,
        diagnose_by_rules(world.incident, world.evidence, ""),
        evidence=world.evidence,
    )
    rollback = next(a for a in plan.actions if a.type == A.rollback_model)
    assert rollback.params["to_version"] == "2.3.0"
    assert rollback.params["from_version"] == "2.4.0"


def test_upstream_retrain_excludes_the_window_since_the_changed_run(
    worlds: dict[str, World],
) -> None:
    world = worlds["upstream_data_change"]
    plan = plan_by_rules(
        world.incident,
        diagnose_by_rules(world.incident, world.evidence, ""),
        evidence=world.evidence,
    )
    retrain = next(a for a in plan.actions if a.type == A.retrain_model)
    assert retrain.params["exclude_start"] == "2026-11-20T06:30:00Z"  # the v3 run's start
    data_notice = [a for a in plan.actions if a.type == A.notify_slack]
    assert [a.target for a in data_notice] == ["#ml-alerts", "#data-alerts"]


def test_channels_come_from_settings(worlds: dict[str, World], tmp_path) -> None:
    world = worlds["pipeline_failure"]
    settings = Settings.load(
        home=tmp_path, slack_alerts_channel="#ops", slack_data_channel="#data-eng"
    )
    plan = plan_by_rules(
        world.incident, diagnose_by_rules(world.incident, world.evidence, ""), settings=settings
    )
    assert [a.target for a in plan.actions if a.type == A.notify_slack] == ["#ops", "#data-eng"]


def test_hypotheses_are_ranked_with_reasons_and_the_runner_up_is_lower(
    worlds: dict[str, World],
) -> None:
    world = worlds["adversarial"]
    ranked = rank_hypotheses(world.incident, world.evidence)
    assert ranked[0].category == RootCauseCategory.adversarial
    assert all(a.score >= b.score for a, b in pairwise(ranked))
    assert any("precision" in reason for reason in ranked[0].reasons)


# ---- sparse data: an eval case may give only a few rows -------------------------------------------
def _sparse(store: sa.Engine, tables: dict, alerts: list[Alert]):
    load_tables(store, tables)
    incident = incident_for(alerts, "m", NOW)
    with store.connect() as conn:
        evidence = gather_evidence(conn, incident, NOW)
    return incident, evidence


def _metrics(hours_ago: int, **values: object) -> dict[str, object]:
    start = NOW - timedelta(hours=hours_ago)
    return {
        "model_name": "m",
        "model_version": "1.0",
        "window_start": start,
        "window_end": start + timedelta(hours=1),
        **values,
    }


def _alert(
    kind: AlertType, severity: Severity, metric: str, value: float, component: str = "model"
) -> Alert:
    return Alert(
        type=kind,
        severity=severity,
        model_name="m",
        component=component,
        metric=metric,
        value=value,
        threshold=0.7,
        window_start=NOW - timedelta(hours=1),
        window_end=NOW,
    )


def test_two_windows_and_a_deployment_are_enough_for_a_bad_deployment(store: sa.Engine) -> None:
    tables = {
        "model_metrics": [
            _metrics(2, f1=0.86, precision=0.9, recall=0.82, request_count=1000),
            _metrics(1, model_version="1.1", f1=0.6, precision=0.6, recall=0.6, request_count=1000),
        ],
        "deployments": [
            {
                "deployment_id": "d1",
                "model_name": "m",
                "model_version": "1.1",
                "previous_version": "1.0",
                "deployed_at": NOW - timedelta(minutes=90),
            }
        ],
    }
    alert = _alert(AlertType.model_performance, Severity.P1, "f1", 0.6)
    incident, evidence = _sparse(store, tables, [alert])
    diagnosis = diagnose_by_rules(incident, evidence, "")
    assert diagnosis.category == RootCauseCategory.bad_deployment
    assert "1.1" in diagnosis.root_cause
    rollback = next(
        a
        for a in plan_by_rules(incident, diagnosis, evidence=evidence).actions
        if a.type == A.rollback_model
    )
    assert rollback.params["to_version"] == "1.0"


def test_drift_rows_for_two_features_and_one_window_do_not_crash(store: sa.Engine) -> None:
    tables = {
        "feature_drift": [
            {
                "model_name": "m",
                "feature_name": f,
                "window_start": NOW - timedelta(hours=1),
                "window_end": NOW,
                "psi": psi,
            }
            for f, psi in (("x1", 0.45), ("x2", 0.05))
        ],
        "model_metrics": [_metrics(1, f1=0.65, precision=0.93, recall=0.35)],
    }
    alerts = [
        _alert(AlertType.model_performance, Severity.P1, "f1", 0.65),
        _alert(AlertType.feature_drift, Severity.P2, "psi", 0.45, component="x1"),
    ]
    incident, evidence = _sparse(store, tables, alerts)
    diagnosis = diagnose_by_rules(incident, evidence, "")
    # recall collapsed while precision held and drift sits in one feature: adversarial signs
    assert diagnosis.category == RootCauseCategory.adversarial
    assert "x1" in diagnosis.root_cause


def test_no_rows_at_all_is_insufficient_evidence_for_a_person_not_a_guess(
    store: sa.Engine,
) -> None:
    alert = _alert(AlertType.latency, Severity.P2, "latency_p99_ms", 2500.0)
    incident, evidence = _sparse(store, {}, [alert])
    ranked = rank_hypotheses(incident, evidence)
    diagnosis = diagnose_by_rules(incident, evidence, "")
    # the alert points at the serving layer, but nothing says whether model or data changed
    assert ranked[0].category == RootCauseCategory.infrastructure
    assert ranked[0].coverage < 0.7
    assert diagnosis.category == RootCauseCategory.unknown
    assert "infrastructure" in diagnosis.root_cause
    assert [t.value for t in diagnosis.escalate_to] == ["ml_team_lead"]
    plan = plan_by_rules(incident, diagnosis, evidence=evidence)
    assert plan.actions[0].type == A.notify_slack
    assert not any(a.requires_approval for a in plan.actions)
    assert {a.target for a in plan.actions if a.type == A.escalate} == {"ml_team_lead"}
