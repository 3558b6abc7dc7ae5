"""What each root-cause category calls for, from CONTRACT.md and the runbook's matrix.

Code, not the model, owns this table: the planner's proposals are checked against it.
"""

from __future__ import annotations

from agentops.domain import ActionType, EscalationTarget, RootCauseCategory

A = ActionType
C = RootCauseCategory
E = EscalationTarget

# The approval-required remedy each category supports; anything else is refused.
REMEDIES: dict[RootCauseCategory, frozenset[ActionType]] = {
    C.bad_deployment: frozenset({A.rollback_model}),
    C.upstream_data_change: frozenset({A.retrain_model}),
    C.pipeline_failure: frozenset(),  # escalate only: the model is not at fault
    C.concept_drift: frozenset({A.retrain_model}),
    C.infrastructure: frozenset({A.scale_infrastructure}),
    C.adversarial: frozenset(),  # never retrain on, or roll back from, a poisoned window
    C.benign: frozenset(),
    C.unknown: frozenset(),  # an honest "I don't know": no model change, a person decides
}

ESCALATIONS: dict[RootCauseCategory, tuple[EscalationTarget, ...]] = {
    C.bad_deployment: (),
    C.upstream_data_change: (E.data_engineering_lead,),
    C.pipeline_failure: (E.data_engineering_lead,),
    C.concept_drift: (),
    C.infrastructure: (E.platform_engineering,),
    C.adversarial: (E.security_team,),
    C.benign: (),
    C.unknown: (E.ml_team_lead,),
}

RECOMMENDED: dict[RootCauseCategory, tuple[ActionType, ...]] = {
    category: (
        *((A.notify_slack, A.log_metrics) if category == C.benign else (A.notify_slack,)),
        *((A.escalate,) if ESCALATIONS[category] else ()),
        *sorted(REMEDIES[category]),
    )
    for category in C
}

# Categories whose cause sits in the data: the data team's channel hears about them too.
DATA_CATEGORIES = frozenset({C.upstream_data_change, C.pipeline_failure})

# Why a remedy is refused for a category, in words a reviewer understands.
REFUSALS: dict[tuple[RootCauseCategory, ActionType], str] = {
    (C.adversarial, A.retrain_model): "no retraining on a poisoned window (adversarial incident)",
    (
        C.adversarial,
        A.rollback_model,
    ): "a rollback does not stop adversarial traffic; security decides",
    (
        C.pipeline_failure,
        A.retrain_model,
    ): "pipeline failure: no model change, the data must be fixed",
    (
        C.pipeline_failure,
        A.rollback_model,
    ): "pipeline failure: no model change, the data must be fixed",
    (C.benign, A.retrain_model): "benign P3 event: a notice only",
    (C.benign, A.rollback_model): "benign P3 event: a notice only",
    (C.benign, A.scale_infrastructure): "benign P3 event: a notice only",
    (C.unknown, A.retrain_model): "the cause is not known: a person decides before any change",
    (C.unknown, A.rollback_model): "the cause is not known: a person decides before any change",
    (
        C.unknown,
        A.scale_infrastructure,
    ): "the cause is not known: a person decides before any change",
}

# Run order: notifications, then escalations/logging/tracking, then approval-required actions.
PRIORITY_BASE: dict[ActionType, int] = {
    A.notify_slack: 10,
    A.escalate: 20,
    A.log_metrics: 30,
    A.open_github_issue: 40,
    A.rollback_model: 50,
    A.retrain_model: 50,
    A.scale_infrastructure: 50,
}


def refusal(category: RootCauseCategory, action: ActionType) -> str | None:
    """Why `action` may not run for `category`, or None when it is allowed."""
    if not action.requires_approval or action in REMEDIES[category]:
        return None
    return REFUSALS.get(
        (category, action), f"{action.value} is not supported by a {category.value} diagnosis"
    )
