"""The Diagnostic Agent: a tool-calling model that ends with an evidence-checked Diagnosis.

The model reads the incident and the gathered evidence, may call the read-only tools within
a step budget (a repeated call is answered from memory and counts against it), and submits
its diagnosis through the `submit_diagnosis` tool, or as a JSON answer on servers
without tool calls. Code then checks it: the category is in the vocabulary and every cited
id exists, in the evidence or in a tool result. An invalid answer gets one repair turn;
after that, or on any model failure, the deterministic analyzers decide, and the note says
which happened. Confidence is capped when the citations are thin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from agentops.agents.analyzers import diagnose_by_rules, rank_hypotheses
from agentops.agents.llm import Meter, bind, call, failure_reason, json_from_text, message_text
from agentops.agents.model import model_id
from agentops.agents.policy import ESCALATIONS
from agentops.domain import (
    ActionType,
    Diagnosis,
    Evidence,
    Incident,
    LLMUsage,
    RootCauseCategory,
)
from agentops.prompts import render
from agentops.tools.result import parse_tool_result

Phase = Literal["triage", "investigate"]
SUBMIT = "submit_diagnosis"
THIN_EVIDENCE_CAP = 0.5  # fewer than two valid citations
DISAGREEMENT_CAP = 0.6  # the rules are confident of another category
MAX_REPEATS = 2

_GOALS = {
    "triage": "Give a first diagnosis from the alerts and evidence below; use tools only to "
    "settle what they leave open.",
    "investigate": "Confirm or overturn the triage diagnosis: look deeper at per-feature "
    "drift, data quality, and deployments and pipeline runs around the first breach.",
}


class DiagnosisAnswer(BaseModel):
    """Submit the final diagnosis of the incident. Call this exactly once, at the end."""

    category: str = Field(description="one root-cause category word")
    root_cause: str = Field(description="names the specific feature(s), version or pipeline")
    confidence: float = Field(description="0..1")
    evidence_ids: list[str] = Field(description="ids from the evidence list or tool results")
    recommended_actions: list[str] = Field(default_factory=list)
    escalate_to: list[str] = Field(default_factory=list)


@dataclass
class AgentOutcome:
    diagnosis: Diagnosis
    usage: LLMUsage
    messages: list[BaseMessage] = field(default_factory=list)
    note: str = ""


def diagnose(
    incident: Incident,
    evidence: list[Evidence],
    *,
    model: BaseChatModel | None,
    tools: list[BaseTool],
    phase: Phase,
    prior: Diagnosis | None = None,
    max_steps: int = 8,
) -> AgentOutcome:
    """The incident's Diagnosis, by the model when one is configured and answers validly."""
    if model is None:
        return _by_rules(incident, evidence, phase, "diagnosed by rules; no LLM configured")
    meter = Meter()
    messages: list[BaseMessage] = [
        SystemMessage(render("diagnostic_system", max_steps=max_steps)),
        HumanMessage(_task(incident, evidence, phase, prior)),
    ]
    try:
        diagnosis, note = _run(model, incident, evidence, tools, messages, meter, max_steps)
    except Exception as exc:  # any model or transport failure: the rules still answer
        note = f"LLM failed: {failure_reason(exc)}; diagnosed by rules"
        outcome = _by_rules(incident, evidence, phase, note)
        return AgentOutcome(outcome.diagnosis, meter.usage(), messages, outcome.note)
    if diagnosis is None:
        outcome = _by_rules(incident, evidence, phase, note)
        return AgentOutcome(outcome.diagnosis, meter.usage(), messages, outcome.note)
    diagnosis = diagnosis.model_copy(update={"note": f"{phase}: {diagnosis.note}"})
    return AgentOutcome(diagnosis, meter.usage(), messages, diagnosis.note)


def _by_rules(
    incident: Incident, evidence: list[Evidence], phase: Phase, note: str
) -> AgentOutcome:
    full = f"{phase}: {note}"
    return AgentOutcome(diagnose_by_rules(incident, evidence, full), LLMUsage(), [], full)


def _task(
    incident: Incident, evidence: list[Evidence], phase: Phase, prior: Diagnosis | None
) -> str:
    brief = incident.model_dump(mode="json", exclude={"alerts", "postmortem", "resolution"})
    brief["alerts"] = [
        f"{a.severity.value} {a.type.value} {a.component} {a.metric}={a.value}"
        for a in incident.alerts
    ]
    lines = "\n".join(f"- {e.id}: {e.summary}" for e in evidence) or "- (none: use the tools)"
    prior_text = (
        "Triage diagnosis to confirm or overturn (JSON):\n"
        + prior.model_dump_json(include={"category", "root_cause", "confidence", "evidence_ids"})
        if prior is not None
        else ""
    )
    return render(
        "diagnostic_task",
        phase=phase,
        phase_goal=_GOALS[phase],
        incident=json.dumps(brief, indent=1),
        evidence=lines,
        prior=prior_text,
    )


def _run(
    model: BaseChatModel,
    incident: Incident,
    evidence: list[Evidence],
    tools: list[BaseTool],
    messages: list[BaseMessage],
    meter: Meter,
    max_steps: int,
) -> tuple[Diagnosis | None, str]:
    submit = StructuredTool.from_function(
        func=lambda **_: "",
        name=SUBMIT,
        description=DiagnosisAnswer.__doc__ or "",
        args_schema=DiagnosisAnswer,
    )
    by_name = {t.name: t for t in tools}
    bound = bind(model, [*tools, submit])
    final_only = bind(model, [submit])
    known = {e.id for e in evidence}
    seen: set[str] = set()
    repeats = 0
    answer: Any = None
    answer_call: str | None = None
    for _ in range(max_steps):
        reply = call(bound, messages, meter)
        messages.append(reply)
        for bad in reply.invalid_tool_calls:
            messages.append(
                ToolMessage(
                    "error: the arguments were not valid JSON; send them again",
                    tool_call_id=bad.get("id") or "invalid",
                )
            )
        if not reply.tool_calls:
            if reply.invalid_tool_calls:
                continue
            answer = json_from_text(message_text(reply))
            break
        for tool_call in reply.tool_calls:
            if tool_call["name"] == SUBMIT:
                answer, answer_call = tool_call["args"], tool_call.get("id")
                continue
            key = tool_call["name"] + json.dumps(tool_call["args"], sort_keys=True, default=str)
            if key in seen:
                repeats += 1
                content = "repeated call: its result is above; do not repeat it, submit instead"
            else:
                seen.add(key)
                content = _run_tool(by_name, tool_call["name"], tool_call["args"], meter)
                result = parse_tool_result(content)
                if result is not None:
                    known.update(result.evidence_ids)
            messages.append(ToolMessage(content, tool_call_id=tool_call.get("id") or ""))
        if answer is not None or repeats >= MAX_REPEATS:
            break
    if answer is None:
        # budget spent or the model looped: ask once more, with only the submit tool
        messages.append(HumanMessage("Your step budget is spent. Call submit_diagnosis now."))
        reply = call(final_only, messages, meter)
        messages.append(reply)
        answer, answer_call = _answer_from(reply)
    diagnosis, problems = check_answer(incident, evidence, answer, known, model_id(model))
    if diagnosis is not None:
        return diagnosis, ""
    # one repair turn
    feedback = "Your diagnosis was rejected: " + "; ".join(problems) + ". Submit a corrected one."
    if answer_call is not None:
        messages.append(ToolMessage(feedback, tool_call_id=answer_call))
    else:
        messages.append(HumanMessage(feedback))
    reply = call(final_only, messages, meter)
    messages.append(reply)
    answer, _ = _answer_from(reply)
    diagnosis, problems = check_answer(incident, evidence, answer, known, model_id(model))
    if diagnosis is not None:
        return diagnosis.model_copy(
            update={"note": diagnosis.note + "; valid after one repair"}
        ), ""
    return None, f"LLM answer invalid after one repair ({'; '.join(problems)}); diagnosed by rules"


def _answer_from(reply: Any) -> tuple[Any, str | None]:
    for tool_call in reply.tool_calls:
        if tool_call["name"] == SUBMIT:
            return tool_call["args"], tool_call.get("id")
    if reply.invalid_tool_calls:
        return None, None
    return json_from_text(message_text(reply)), None


def _run_tool(by_name: dict[str, BaseTool], name: str, args: dict[str, Any], meter: Meter) -> str:
    tool = by_name.get(name)
    if tool is None:
        return json.dumps({"status": "error", "error": f"no tool named {name!r}"})
    meter.tool_calls += 1
    try:
        return str(tool.invoke(args))
    except Exception as exc:  # bad arguments from the model: tell it, do not crash
        return json.dumps({"status": "error", "error": f"bad call: {failure_reason(exc)}"})


def check_answer(
    incident: Incident,
    evidence: list[Evidence],
    answer: Any,
    known_ids: set[str],
    by: str,
) -> tuple[Diagnosis | None, list[str]]:
    """A Diagnosis from the model's answer, or the problems that make it unacceptable."""
    if not isinstance(answer, dict):
        return None, ["no diagnosis found: call submit_diagnosis with the required fields"]
    problems: list[str] = []
    category_word = str(answer.get("category", "")).strip()
    try:
        category = RootCauseCategory(category_word)
    except ValueError:
        allowed = ", ".join(c.value for c in RootCauseCategory)
        problems.append(f"category {category_word!r} is not one of: {allowed}")
    root_cause = str(answer.get("root_cause") or "").strip()
    if len(root_cause) < 10:
        problems.append("root_cause must name the specific feature, version or pipeline")
    try:
        confidence = min(max(float(answer.get("confidence", 0.5)), 0.0), 1.0)
    except (TypeError, ValueError):
        problems.append("confidence must be a number between 0 and 1")
        confidence = 0.0
    cited = answer.get("evidence_ids")
    ids = [str(i) for i in cited] if isinstance(cited, list) else []
    unknown = [i for i in ids if i not in known_ids]
    if unknown:
        problems.append(f"unknown evidence ids {unknown}: cite only ids you were given")
    if not ids:
        problems.append("cite at least one evidence id")
    if problems:
        return None, problems
    notes = [f"diagnosed by {by}"]
    valid = list(dict.fromkeys(ids))
    if len(valid) < 2 and confidence > THIN_EVIDENCE_CAP:
        confidence = THIN_EVIDENCE_CAP
        notes.append(f"confidence capped at {THIN_EVIDENCE_CAP}: fewer than two citations")
    best = rank_hypotheses(incident, evidence)[0]
    if best.category != category and best.score >= 0.8 and confidence > DISAGREEMENT_CAP:
        confidence = DISAGREEMENT_CAP
        notes.append(f"confidence capped at {DISAGREEMENT_CAP}: rules favour {best.category.value}")
    actions = [a for a in (answer.get("recommended_actions") or []) if a in ActionType.__members__]
    # escalation follows the runbook's matrix for the category, whatever the model listed
    return (
        Diagnosis(
            category=category,
            root_cause=root_cause[:600],
            confidence=round(confidence, 2),
            evidence_ids=valid,
            recommended_actions=[ActionType(a) for a in dict.fromkeys(actions)],
            escalate_to=list(ESCALATIONS[category]),
            diagnosed_by=by,
            note="; ".join(notes),
        ),
        [],
    )
