"""The Action Agent: the model proposes a plan, code decides what is in it.

`validate_plan` keeps CONTRACT.md action types only, sets every target itself (channels from
settings, the model name, the escalation matrix), takes approval-required parameters from
the evidence rather than from the model, adds what the runbook requires and the model left
out, orders by priority, and records everything it drops with the reason. Whether an action
needs approval is a property of its type (`ActionType.requires_approval`): no field of a
proposal can change it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from agentops.agents.llm import Meter, bind, call, failure_reason, json_from_text, message_text
from agentops.agents.model import model_id
from agentops.agents.policy import ESCALATIONS, PRIORITY_BASE, refusal
from agentops.agents.remedies import channels, plan_by_rules
from agentops.domain import (
    Action,
    ActionPlan,
    ActionType,
    Diagnosis,
    DroppedAction,
    EscalationTarget,
    Evidence,
    Incident,
    LLMUsage,
    Severity,
)
from agentops.prompts import render
from agentops.settings import Settings

PROPOSE = "propose_plan"
MAX_RUNBOOK_CHARS = 4000
A = ActionType


class ProposedAction(BaseModel):
    type: str = Field(description="an allowed action type")
    target: str = Field("", description="channel, escalation target, model name or 'github'")
    reason: str = ""


class ProposedPlan(BaseModel):
    """Propose the ordered remediation plan. Code validates it; approval is decided by code."""

    actions: list[ProposedAction]


@dataclass
class PlanOutcome:
    plan: ActionPlan
    usage: LLMUsage
    note: str = ""


def plan(
    incident: Incident,
    diagnosis: Diagnosis,
    *,
    model: BaseChatModel | None,
    runbook_text: str = "",
    evidence: list[Evidence] | None = None,
    settings: Settings | None = None,
) -> PlanOutcome:
    """The incident's ActionPlan: the model's proposal after validation, else the rules'."""
    if model is None:
        rules = plan_by_rules(incident, diagnosis, evidence=evidence, settings=settings)
        return PlanOutcome(rules, LLMUsage(), "planned by rules; no LLM configured")
    meter = Meter()
    try:
        proposed, problem = _propose(model, incident, diagnosis, runbook_text, settings, meter)
    except Exception as exc:  # any model or transport failure: the rules still plan
        rules = plan_by_rules(incident, diagnosis, evidence=evidence, settings=settings)
        return PlanOutcome(
            rules, meter.usage(), f"LLM failed: {failure_reason(exc)}; planned by rules"
        )
    if proposed is None:
        rules = plan_by_rules(incident, diagnosis, evidence=evidence, settings=settings)
        return PlanOutcome(
            rules,
            meter.usage(),
            f"LLM plan unusable after one repair ({problem}); planned by rules",
        )
    checked = validate_plan(incident, diagnosis, proposed, evidence=evidence, settings=settings)
    checked = checked.model_copy(update={"planned_by": model_id(model)})
    note = f"planned by {model_id(model)}"
    if checked.dropped:
        note += f"; code dropped {len(checked.dropped)} proposed action(s)"
    return PlanOutcome(checked, meter.usage(), note)


def _propose(
    model: BaseChatModel,
    incident: Incident,
    diagnosis: Diagnosis,
    runbook_text: str,
    settings: Settings | None,
    meter: Meter,
) -> tuple[list[dict[str, Any]] | None, str]:
    alerts_channel, data_channel = channels(settings)
    tool = StructuredTool.from_function(
        func=lambda **_: "",
        name=PROPOSE,
        description=ProposedPlan.__doc__ or "",
        args_schema=ProposedPlan,
    )
    bound = bind(model, [tool])
    messages: list[BaseMessage] = [
        SystemMessage(
            render("planner_system", alerts_channel=alerts_channel, data_channel=data_channel)
        ),
        HumanMessage(
            render(
                "planner_task",
                incident=incident.model_dump_json(
                    include={"incident_id", "model_name", "severity", "alert_types"}
                ),
                diagnosis=diagnosis.model_dump_json(exclude={"note"}),
                # the closing marker must not be forgeable from inside the excerpt
                runbook=runbook_text[:MAX_RUNBOOK_CHARS].replace("RUNBOOK>>>", "RUNBOOK>>"),
            )
        ),
    ]
    problem = ""
    for attempt in range(2):
        reply = call(bound, messages, meter)
        messages.append(reply)
        proposed, call_id, problem = _read_proposal(reply)
        if proposed is not None:
            return proposed, ""
        if attempt == 0:
            feedback = f"Your plan could not be read ({problem}). Call {PROPOSE} again."
            messages.append(
                ToolMessage(feedback, tool_call_id=call_id) if call_id else HumanMessage(feedback)
            )
    return None, problem


def _read_proposal(reply: Any) -> tuple[list[dict[str, Any]] | None, str | None, str]:
    for tool_call in reply.tool_calls:
        if tool_call["name"] == PROPOSE:
            items = tool_call["args"].get("actions")
            if isinstance(items, list):
                return items, tool_call.get("id"), ""
            return None, tool_call.get("id"), "propose_plan needs a list under 'actions'"
    if reply.invalid_tool_calls:
        bad = reply.invalid_tool_calls[0]
        return None, bad.get("id"), "the tool arguments were not valid JSON"
    value = json_from_text(message_text(reply))
    if isinstance(value, dict) and isinstance(value.get("actions"), list):
        return value["actions"], None, ""
    if isinstance(value, list):
        return value, None, ""
    return None, None, "no propose_plan call and no JSON plan in the answer"


def validate_plan(
    incident: Incident,
    diagnosis: Diagnosis,
    proposed: list[dict[str, Any]],
    *,
    evidence: list[Evidence] | None = None,
    settings: Settings | None = None,
) -> ActionPlan:
    """The plan code accepts from a proposal; see the module docstring for the rules."""
    rules = plan_by_rules(incident, diagnosis, evidence=evidence, settings=settings)
    rule_params = {a.type: a.params for a in rules.actions}
    alerts_channel, data_channel = channels(settings)
    category = diagnosis.category
    kept: list[Action] = []
    dropped: list[DroppedAction] = []
    seen: set[tuple[ActionType, str]] = set()

    def drop(item: Any, reason: str) -> None:
        dropped.append(DroppedAction(proposed=_label(item), reason=reason))

    for item in proposed:
        if not isinstance(item, dict):
            drop(item, "not an action object")
            continue
        try:
            kind = ActionType(str(item.get("type", "")).strip())
        except ValueError:
            drop(item, f"unknown action type (allowed: {', '.join(a.value for a in A)})")
            continue
        why = refusal(category, kind)
        if why is not None:
            drop(item, why)
            continue
        target, why = _target(
            kind, str(item.get("target") or ""), incident, category, alerts_channel, data_channel
        )
        if target is None:
            drop(item, why)
            continue
        if (kind, target) in seen:
            drop(item, "duplicate of an earlier action")
            continue
        seen.add((kind, target))
        kept.append(
            Action(
                type=kind,
                target=target,
                reason=" ".join(str(item.get("reason") or "").split())[:300],
                # parameters of a risky action come from the evidence, never from the model
                params=dict(rule_params.get(kind, {})) if kind.requires_approval else {},
            )
        )
    for required in rules.actions:
        must = (
            (required.type == A.notify_slack and incident.severity != Severity.P3)
            or required.type == A.escalate
            or required.requires_approval
        )
        if must and (required.type, required.target) not in seen:
            seen.add((required.type, required.target))
            kept.append(
                required.model_copy(
                    update={"reason": f"required by the runbook: {required.reason}"}
                )
            )
    return ActionPlan(
        actions=_prioritised(kept, data_channel), dropped=dropped, planned_by="rules+model"
    )


def _target(
    kind: ActionType,
    proposed: str,
    incident: Incident,
    category: Any,
    alerts_channel: str,
    data_channel: str,
) -> tuple[str | None, str]:
    if kind == A.notify_slack:
        name = proposed.strip().lstrip("#").lower()
        if name == data_channel.lstrip("#").lower():
            return data_channel, ""
        return alerts_channel, ""  # any other channel becomes the alerts channel
    if kind == A.escalate:
        word = proposed.strip().lower().replace(" ", "_").replace("-", "_")
        try:
            target = EscalationTarget(word)
        except ValueError:
            return None, f"unknown escalation target {proposed!r}"
        if target not in ESCALATIONS[category]:
            return None, (
                f"escalation to {target.value} is not in the matrix for {category.value}; "
                "ml_team_lead and engineering_manager are raised when remediation fails or "
                "a P1 stays open"
            )
        return target.value, ""
    if kind == A.open_github_issue:
        return "github", ""
    return incident.model_name, ""


def _prioritised(actions: list[Action], data_channel: str) -> list[Action]:
    """Runbook order: Slack, escalations, logging, tracking, then approval-required actions;
    the proposal's order within each group, the alerts channel before the data channel."""
    counters: dict[int, int] = {}
    out = []

    def rank(pair: tuple[int, Action]) -> tuple[int, bool, int]:
        index, action = pair
        return (PRIORITY_BASE[action.type], action.target == data_channel, index)

    ordered = sorted(enumerate(actions), key=rank)
    for _, action in ordered:
        base = PRIORITY_BASE[action.type]
        offset = counters.get(base, 0)
        counters[base] = offset + 1
        out.append(action.model_copy(update={"priority": base + offset}))
    return out


def _label(item: Any) -> str:
    if isinstance(item, dict):
        return json.dumps({k: item.get(k) for k in ("type", "target") if k in item}, default=str)[
            :200
        ]
    return str(item)[:200]


__all__ = ["PlanOutcome", "plan", "validate_plan"]
