"""`execute`: one planned action, validated by code, run exactly once through the ledger.

Messaging actions use the transactional outbox: in ONE transaction the ledger key is claimed,
the message rows are enqueued and the ledger entry is finished (`queued`, or `succeeded` when
everything went to the local outbox); delivery follows and marks the entry `succeeded` once
every message is sent. Executors claim first, act, then finish; a failure escalates to the
matrix's `remediation_failed` target (itself through the ledger).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from agentops.actions import messaging, remediate
from agentops.actions.clients import Senders
from agentops.actions.policy import Policy
from agentops.actions.runtime import Runtime
from agentops.domain import Action, ActionResult, ActionType, EscalationTarget, Incident
from agentops.errors import ApprovalError
from agentops.settings import Settings
from agentops.store import Stores

Handler = Callable[[Runtime, Incident, Action, str | None], ActionResult]
HANDLERS: dict[ActionType, Handler] = {
    ActionType.notify_slack: messaging.notify_slack,
    ActionType.log_metrics: messaging.log_metrics,
    ActionType.escalate: messaging.escalate,
    ActionType.open_github_issue: messaging.open_github_issue,
    ActionType.rollback_model: remediate.rollback_model,
    ActionType.retrain_model: remediate.retrain_model,
    ActionType.scale_infrastructure: remediate.scale_infrastructure,
}


def execute(
    stores: Stores,
    settings: Settings,
    incident: Incident,
    action: Action,
    *,
    now: datetime,
    approved_by: str | None = None,
    approved_via: str | None = None,
    context: dict[str, Any] | None = None,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> ActionResult:
    """Run `action` for `incident` at most once; a repeat returns the ledger's result with
    `replayed=True`.

    - Approval-required types (rollback_model, retrain_model, scale_infrastructure) raise
      `ApprovalError` unless `approved_by` is a configured approver of that action.
    - An action code refuses (an unknown escalation target, a model other than the
      incident's) comes back `skipped` with the reason, and is not recorded.
    - `context` may carry `diagnosis` (a Diagnosis or its dict: root cause and category for
      messages and issue labels) and `top_features` ([{"feature": "V14", "psi": 0.8}, ...],
      the "Top features" of the Slack alert).
    - `approved_via` records how the approver was identified (cli, server, slack, ...).
    - `senders` / `policy` default to those built from `settings` (tests inject stand-ins).
    """
    runtime = Runtime(
        stores,
        settings,
        now=now,
        senders=senders,
        policy=policy,
        context=context,
        approved_via=approved_via,
    )
    _check_approval(runtime, action, approved_by)
    key = action.key(incident.incident_id)
    refusal = _refusal(incident, action)
    if refusal:
        return ActionResult(
            action=action, status="skipped", detail=refusal, idempotency_key=key, executed_at=now
        )
    return HANDLERS[action.type](runtime, incident, action, approved_by)


def _check_approval(rt: Runtime, action: Action, approved_by: str | None) -> None:
    """Code checks again what the graph checked: the approver is configured for this action
    (the policy file's `approvers`, else AGENTOPS_APPROVERS)."""
    if not action.requires_approval:
        return
    if not approved_by:
        raise ApprovalError(
            f"{action.type.value} on {action.target} needs a person's approval; none was given"
        )
    allowed = rt.policy.people.approvers_for(action.type, rt.settings.approvers)
    if approved_by not in allowed:
        listed = ", ".join(allowed) or "nobody (set `approvers` in the policy file)"
        raise ApprovalError(
            f"{approved_by!r} may not approve {action.type.value}: approvers are {listed}"
        )


def _refusal(incident: Incident, action: Action) -> str | None:
    if action.type is ActionType.escalate and action.target not in EscalationTarget.__members__:
        return (
            f"unknown escalation target {action.target!r}; "
            f"expected one of {list(EscalationTarget.__members__)}"
        )
    if (
        action.type in {ActionType.rollback_model, ActionType.retrain_model}
        and action.target != incident.model_name
    ):
        return f"{action.type.value} targets {action.target!r}, not the incident's model {incident.model_name!r}"
    if not action.target:
        return "the action has no target"
    return None
