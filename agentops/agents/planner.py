"""The Action Agent: the model proposes a plan, code decides what is in it.

The model's turn runs as a LangGraph subgraph (`planner_graph.py`); `floor.validate_plan`
decides what of a proposal is kept on top of the baseline the runbook requires (see there),
and the plan's `credit`, `dropped` and `changed` say which step came from whom and what code
refused or changed. Whether an action needs approval is a property of its type
(`ActionType.requires_approval`): no field of a proposal can change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agentops.agents.floor import validate_plan
from agentops.agents.llm import Meter, deadline_after, json_from_text, message_text
from agentops.agents.model import model_id
from agentops.agents.planner_graph import PROPOSE, build_planner_agent
from agentops.agents.remedies import channels, plan_by_rules
from agentops.domain import ActionPlan, Diagnosis, Evidence, Incident, LLMUsage
from agentops.prompts import render
from agentops.settings import Settings

MAX_RUNBOOK_CHARS = 4000
GRAPH_STEPS = 10  # two calls, two reads, the ending


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
    budget_s: float = 90.0,
) -> PlanOutcome:
    """The incident's ActionPlan: the model's proposal on top of the runbook's baseline, after
    validation (within `budget_s` seconds), else the rules' plan."""
    if model is None:
        rules = plan_by_rules(incident, diagnosis, evidence=evidence, settings=settings)
        return PlanOutcome(rules, LLMUsage(), "planned by rules; no LLM configured")
    by = model_id(model)
    agent = build_planner_agent(
        model, by=by, schema=ProposedPlan, read=_read_proposal, settings=settings
    )
    final = agent.invoke(
        {
            "incident": incident.model_dump(mode="json"),
            "diagnosis": diagnosis.model_dump(mode="json"),
            "evidence": [e.model_dump(mode="json") for e in evidence or []],
            "deadline": deadline_after(budget_s),
            "budget_s": round(budget_s, 1),
            "messages": _messages(incident, diagnosis, runbook_text, settings),
        },
        {"recursion_limit": GRAPH_STEPS},
    )
    usage = Meter(**(final.get("usage") or {})).usage()
    if final.get("plan"):
        return PlanOutcome(ActionPlan.model_validate(final["plan"]), usage, str(final["note"]))
    rules = plan_by_rules(incident, diagnosis, evidence=evidence, settings=settings)
    return PlanOutcome(rules, usage, str(final.get("failure") or "no plan; planned by rules"))


def _messages(
    incident: Incident, diagnosis: Diagnosis, runbook_text: str, settings: Settings | None
) -> list[BaseMessage]:
    alerts_channel, data_channel = channels(settings)
    return [
        SystemMessage(
            render("planner_system", alerts_channel=alerts_channel, data_channel=data_channel)
        ),
        HumanMessage(
            render(
                "planner_task",
                incident=incident.model_dump_json(
                    include={"incident_id", "model_name", "severity", "alert_types"}
                ),
                diagnosis=diagnosis.model_dump_json(exclude={"note", "refused"}),
                # the closing marker must not be forgeable from inside the excerpt
                runbook=runbook_text[:MAX_RUNBOOK_CHARS].replace("RUNBOOK>>>", "RUNBOOK>>"),
            )
        ),
    ]


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


__all__ = ["PROPOSE", "PlanOutcome", "plan", "validate_plan"]
