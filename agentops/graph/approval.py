"""What an approval request shows a human, and how code checks the answer.

The model never decides approval: `ActionType.requires_approval` does; a resume is valid
only with a known decision from an authorized approver, else nothing runs and the graph
asks again, saying what was wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agentops.domain import Action, Approval
from agentops.graph import records as r
from agentops.graph.context import Context
from agentops.graph.state import Json, State
from agentops.settings import Settings

RISKS = {
    "rollback_model": "serves the previous version: recent fixes in the current one are lost "
    "until it is redeployed",
    "retrain_model": "starts a training job and later a new version; training on a bad "
    "window would bake the problem in (the job excludes the incident window)",
    "scale_infrastructure": "changes capacity and cost of the serving fleet",
}

RESUME_FORMAT = {
    "decision": "approve | reject",
    "approver": "your name, one of the allowed approvers",
    "comment": "why (optional for approve, expected for reject)",
}


def effective_approvers(settings: Settings, context: Context) -> tuple[str, ...]:
    """AGENTOPS_APPROVERS, narrowed by the run's context; the context's list when unset."""
    configured = settings.approvers
    if not configured:
        return tuple(context.approvers)
    if context.approvers:
        return tuple(name for name in configured if name in context.approvers)
    return configured


def approval_payload(state: State, action: Action, approvers: tuple[str, ...]) -> Json:
    incident = r.incident(state)
    diagnosis = r.diagnosis(state)
    cited = set(diagnosis.evidence_ids) if diagnosis else set()
    evidence = [{"id": e.id, "summary": e.summary} for e in r.evidence(state) if e.id in cited][:8]
    return {
        "kind": "approval_request",
        "incident_id": incident.incident_id,
        "model_name": incident.model_name,
        "severity": incident.severity.value,
        "action": {
            "type": action.type.value,
            "target": action.target,
            "reason": action.reason,
            "params": action.params,
        },
        "why": diagnosis.root_cause if diagnosis else action.reason,
        "category": diagnosis.category.value if diagnosis else None,
        "confidence": diagnosis.confidence if diagnosis else None,
        "evidence": evidence,
        "risk": RISKS.get(action.type.value, ""),
        "approvers": list(approvers),
        "resume_with": RESUME_FORMAT,
    }


def validate_resume(
    answer: Any, approvers: tuple[str, ...], action_key: str, at: datetime
) -> tuple[Approval | None, str | None]:
    """(Approval, None) for a valid answer, else (None, what was wrong)."""
    if not isinstance(answer, dict):
        return None, f"expected an object like {RESUME_FORMAT}, got {answer!r}"
    decision = str(answer.get("decision", "")).strip().lower()
    approver = str(answer.get("approver", "")).strip()
    comment = str(answer.get("comment", "") or "").strip()
    if decision not in {"approve", "reject"}:
        return None, f"unknown decision {answer.get('decision')!r}: use 'approve' or 'reject'"
    if not approver:
        return None, "an approver name is required"
    if approver not in approvers:
        allowed = ", ".join(approvers) or "nobody (set AGENTOPS_APPROVERS)"
        return None, f"{approver!r} is not an authorized approver (allowed: {allowed})"
    approval = Approval.model_validate(
        {
            "action_key": action_key,
            "decision": decision,
            "approver": approver,
            "comment": comment,
            "decided_at": at,
        }
    )
    return approval, None
