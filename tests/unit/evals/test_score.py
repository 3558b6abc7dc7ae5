"""Scoring against hand-built final states: each expectation holds or fails on its own."""

from __future__ import annotations

from typing import Any

from agentops.cases import Case
from agentops.domain import Action, ActionPlan, ActionResult, Diagnosis, LLMUsage

CASE = Case.model_validate(
    {
        "id": "900_scoring",
        "now": "2026-11-20T12:05:00Z",
        "approvals": {"rollback_model": "reject"},
        "expect": {
            "incident": True,
            "severity": "P1",
            "alert_types": ["model_performance", "feature_drift"],
            "root_cause": {"category": "upstream_data_change", "mentions": ["v14", "Vendor"]},
            "actions": {
                "include": ["notify_slack", "retrain_model"],
                "exclude": ["rollback_model"],
            },
            "executed": ["retrain_model"],
            "escalate_to": ["data_engineering_lead"],
        },
    }
)


def _result(kind: str, target: str, status: str) -> ActionResult:
    action = Action(type=kind, target=target)
    return ActionResult(action=action, status=status, idempotency_key=action.key("INC-1"))


def good_state() -> dict[str, Any]:
    plan = ActionPlan(
        actions=[
            Action(type="notify_slack", target="#ml-alerts"),
            Action(type="retrain_model", target="classifier_v2"),
            Action(type="escalate", target="data_engineering_lead"),
        ]
    )
    return {
        "incident": {
            "incident_id": "INC-1",
            "severity": "P1",
            "alert_types": ["feature_drift", "model_performance"],
        },
        "diagnosis": Diagnosis(
            category="upstream_data_change",
            root_cause="Vendor API v3 changed the merchant code feeding V14",
            confidence=0.9,
        ),
        "action_plan": plan,
        "actions_taken": [
            _result("notify_slack", "#ml-alerts", "succeeded"),
            _result("retrain_model", "classifier_v2", "succeeded"),
            _result("escalate", "data_engineering_lead", "succeeded"),
        ],
        "escalated_to": [],
        "llm_usage": LLMUsage(),
    }


def test_a_state_meeting_every_expectation_passes_every_check() -> None:
    from agentops.evals import score

    checks = score(CASE, good_state())
    assert set(checks) == {
        "incident", "severity", "alert_types", "category", "mentions",
        "actions_include", "actions_exclude", "executed", "escalation",
    }  # fmt: skip
    assert all(checks.values())


def test_each_expectation_fails_on_its_own() -> None:
    from agentops.evals import score

    def failing(state: dict[str, Any]) -> set[str]:
        return {k for k, ok in score(CASE, state).items() if not ok}

    s = good_state()
    s["incident"] = {**s["incident"], "severity": "P2"}
    assert failing(s) == {"severity"}

    s = good_state()
    s["incident"] = {**s["incident"], "alert_types": ["model_performance"]}
    assert failing(s) == {"alert_types"}, "alert types are an exact set, not a subset"

    s = good_state()
    s["diagnosis"] = s["diagnosis"].model_copy(update={"category": "concept_drift"})
    assert failing(s) == {"category"}

    s = good_state()
    s["diagnosis"] = s["diagnosis"].model_copy(update={"root_cause": "vendor change on V17"})
    assert failing(s) == {"mentions"}

    s = good_state()
    s["action_plan"] = ActionPlan(actions=[Action(type="notify_slack", target="#ml-alerts")])
    assert failing(s) == {"actions_include"}

    s = good_state()
    s["action_plan"] = ActionPlan(
        actions=[*s["action_plan"].actions, Action(type="rollback_model", target="m")]
    )
    assert failing(s) == {"actions_exclude"}

    s = good_state()
    s["actions_taken"][1] = _result("retrain_model", "classifier_v2", "failed")
    assert failing(s) == {"executed"}, "only a succeeded approval-gated action counts as run"

    s = good_state()
    s["escalated_to"] = ["ml_team_lead"]
    assert failing(s) == {"escalation"}, "escalation is an exact set"


def test_no_incident_state_and_omitted_keys() -> None:
    from agentops.evals import score

    quiet = Case.model_validate(
        {"id": "901_quiet", "now": "2026-11-20T12:05:00Z", "expect": {"incident": False}}
    )
    assert score(quiet, {"incident": None}) == {"incident": True}
    assert score(quiet, good_state()) == {"incident": False}
    assert score(CASE, {"incident": None})["incident"] is False


def test_json_shaped_state_from_the_server_scores_the_same() -> None:
    from agentops.evals import score

    state = good_state()
    as_json = {
        k: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v) for k, v in state.items()
    }
    as_json["actions_taken"] = [r.model_dump(mode="json") for r in state["actions_taken"]]
    assert score(CASE, as_json) == score(CASE, state)
