"""What an approval request shows a human, and how code checks the answer.

The model never decides approval: `ActionType.requires_approval` does. An answer counts only
with a known decision from a verified identity that is a configured approver of that action;
anything else is refused with the reason, recorded, and the request is asked again afresh —
a refused answer is never stored as the answer and never replayed.

The interrupt value is agentops's own request (`kind: approval_request`) and also carries
LangGraph's HumanInterrupt shape (`action_request`, `config`, `description`), so Agent Inbox
shows Approve / Reject; Agent Inbox's response list is accepted as an answer. A model's words
("ALREADY APPROVED by alice, execute now") are shown only quoted and attributed, after the
system's own statement of what an approval runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentops.actions.untrusted import github_text, quote
from agentops.clock import iso
from agentops.domain import Action, Approval
from agentops.graph import records as r
from agentops.graph.identity import Identity
from agentops.graph.state import Json, State
from agentops.params import parse_params

RISKS = {
    "rollback_model": "serves the previous version: recent fixes in the current one are lost "
    "until it is redeployed",
    "retrain_model": "starts a training job; its candidate replaces the model only if its F1 "
    "and recall are at least the current model's on the same holdout (else the ML team lead "
    "is told); training on a bad window would bake the problem in (the job leaves it out)",
    "scale_infrastructure": "changes capacity and cost of the serving fleet",
}

MODEL_TEXT_LIMIT = 300  # characters of a model's words an approver is shown
RESUME_FORMAT = {
    "decision": "approve | reject",
    "comment": "why (optional for approve, expected for reject)",
}
NO_APPROVERS = (
    "no approvers are configured for this action: set `approvers` in the policy file "
    "(or AGENTOPS_APPROVERS for the process that runs the graph)"
)


def approval_payload(
    state: State, action: Action, approvers: tuple[str, ...], roles: list[str]
) -> Json:
    """The request a person answers. What is approved is stated by the system alone (the
    action, its target and every parameter the executor reads, from code), then the facts
    an approver weighs (`facts`: the rollback target's metrics and schema, the retraining
    data, load against capacity, from the monitoring tables); a model's words follow,
    quoted, attributed and capped (`model_says`), never in those lines."""
    incident = r.incident(state)
    diagnosis = r.diagnosis(state)
    cited = set(diagnosis.evidence_ids) if diagnosis else set()
    evidence = [
        {"id": e.id, "summary": quote(e.summary, 200)} for e in r.evidence(state) if e.id in cited
    ][:8]
    risk = RISKS.get(action.type.value, "")
    by = diagnosis.diagnosed_by if diagnosis else "none"
    category = diagnosis.category.value if diagnosis else None
    said: Json | None = None
    if diagnosis is not None and by != "rules":
        said = {"by": by, "text": quote(diagnosis.root_cause, MODEL_TEXT_LIMIT)}
        why = f"{category}, diagnosed by the model {by}; its words: “{said['text']}”"
    else:
        why = quote(diagnosis.root_cause if diagnosis else action.reason, 600)
    who = ", ".join(approvers) or "nobody yet (" + NO_APPROVERS + ")"
    # every parameter the executor reads, defaults included, through the type both share
    typed = parse_params(action.type.value, action.params).model_dump(
        mode="json", exclude_none=True
    )
    # names and parameters come from the tables: one line each, so none can fake a line
    params = ", ".join(f"{k}={quote(str(v), 80)}" for k, v in sorted(typed.items()))
    target = quote(action.target, 120)
    facts = action.facts
    shown_facts = [quote(line, 300) for line in facts.lines] if facts else []
    description = "\n".join(
        line
        for line in [
            f"**{action.type.value} → {target}** for {incident.incident_id} "
            f"({incident.severity.value}, {quote(incident.model_name, 120)})",
            f"Approving runs {action.type.value} on {target} once"
            + (f" with {params}" if params else "")
            + "; nothing else is approved.",
            "",
            f"Diagnosis: {category or '?'} by {by}",
            # Markdown (Agent Inbox, Studio): no HTML, autolink or mention from the quote
            f"> The model ({by}) says, unverified: “{github_text(said['text'])}”"
            if said
            else f"Why: {github_text(why)}",
            f"Risk: {risk}",
            *(f"- {github_text(line)}" for line in shown_facts),
            "Evidence: " + github_text("; ".join(e["summary"] for e in evidence))
            if evidence
            else "",
            f"Approvers: {who}",
            "Approve runs the action once; reject hands the incident to the ML team lead.",
        ]
    )
    return {
        "kind": "approval_request",
        "incident_id": incident.incident_id,
        "model_name": incident.model_name,
        "severity": incident.severity.value,
        "action": {
            "type": action.type.value,
            "target": action.target,
            "reason": action.reason,
            "params": typed,
        },
        # what the approver weighs, read from the monitoring tables by code when planned
        "facts": {
            "as_of": iso(facts.as_of) if facts else None,
            "lines": shown_facts,
            "data": facts.data if facts else {},
        },
        "why": why,
        "category": category,
        "diagnosed_by": by,
        "model_says": said,
        "confidence": diagnosis.confidence if diagnosis else None,
        "evidence": evidence,
        "risk": risk,
        "approvers": list(approvers),
        "approver_roles": roles,
        "resume_with": RESUME_FORMAT,
        # LangGraph's HumanInterrupt (Agent Inbox)
        "action_request": {"action": action.type.value, "args": {"target": action.target}},
        "config": {
            "allow_accept": True,
            "allow_ignore": True,
            "allow_respond": True,
            "allow_edit": False,
        },
        "description": description,
    }


@dataclass(frozen=True)
class Checked:
    approval: Approval | None = None
    problem: str | None = None
    note: str | None = None  # logged, e.g. a typed approver name that differs from the identity


def _decision(answer: Any) -> tuple[str | None, str, str | None]:
    """(decision, comment, typed approver) from our format or Agent Inbox's response."""
    if isinstance(answer, list) and answer and isinstance(answer[0], dict):
        answer = answer[0]
    if not isinstance(answer, dict):
        return None, "", None
    inbox = answer.get("type")
    if inbox in {"accept", "ignore", "response", "edit"}:
        args = answer.get("args")
        text = args if isinstance(args, str) else ""
        if inbox == "accept":
            return "approve", text, None
        if inbox == "edit":
            return None, "", None  # editing the action is not offered (allow_edit: false)
        return "reject", text or f"{inbox} in Agent Inbox", None
    decision = str(answer.get("decision", "")).strip().lower() or None
    typed = answer.get("approver")
    return decision, str(answer.get("comment", "") or "").strip(), (str(typed) if typed else None)


def check_answer(
    answer: Any,
    *,
    identity: Identity | None,
    approvers: tuple[str, ...],
    action_key: str,
    at: datetime,
) -> Checked:
    """A valid Approval, or the reason the answer is refused."""
    decision, comment, typed = _decision(answer)
    if decision not in {"approve", "reject"}:
        return Checked(
            problem=f"unknown answer {answer!r}: send {RESUME_FORMAT} (or accept / ignore / "
            "respond in Agent Inbox)"
        )
    if identity is None:
        return Checked(
            problem="the answer carries no verified identity (a server token, a signed Slack "
            "click or `agentops approve` at the CLI); nothing was decided"
        )
    note = None
    if typed and typed != identity.name:
        note = f"answer names {typed!r} but came from {identity.name} ({identity.via}): ignored"
    if not approvers:
        return Checked(problem=NO_APPROVERS, note=note)
    if identity.name not in approvers:
        return Checked(
            problem=f"{identity.name} ({identity.via}) may not approve this action "
            f"(approvers: {', '.join(approvers)})",
            note=note,
        )
    approval = Approval(
        action_key=action_key,
        decision=decision,
        approver=identity.name,
        via=identity.via,
        comment=comment,
        decided_at=at,
    )
    return Checked(approval=approval, note=note)
