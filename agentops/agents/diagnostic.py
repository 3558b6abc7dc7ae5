"""The Diagnostic Agent: a tool-calling model that ends with an evidence-checked Diagnosis.

The model reads the incident and the gathered evidence, may call the read-only tools within
a step budget (a repeated call is answered from memory and counts against it), and submits
its diagnosis through the `submit_diagnosis` tool, or as a JSON answer on servers
without tool calls. The loop runs as a LangGraph subgraph (`diagnostic_graph.py`), one
checkpointed step per model call, tool round and check. Code then checks the answer: the
category is in the vocabulary, every cited id exists (in the evidence or a tool result), and
the category fits the evidence (`preconditions.check_category`: benign is refused while a
P1/P2 threshold is crossed, bad_deployment without a release, ...). An answer that fails
gets one repair turn; after that, or when the model or its transport fails
(`llm.model_failures`) or the incident's time budget runs out, the deterministic analyzers
decide, and the note says which happened; every refused claim is kept in
`Diagnosis.refused`. Any other error is a bug and propagates. Confidence is capped when the
citations are thin or the rules are confident of another category.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from agentops.agents.analyzers import diagnose_by_rules, rank_hypotheses
from agentops.agents.diagnostic_graph import build_diagnostic_agent
from agentops.agents.llm import Meter, deadline_after
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

Phase = Literal["triage", "investigate"]
THIN_EVIDENCE_CAP = 0.5  # fewer than two valid citations
DISAGREEMENT_CAP = 0.6  # the rules are confident of another category
# Graph steps per model step (a model call and a tool round), plus the final answer, one
# repair and the ending.
STEPS_PER_TURN, EXTRA_STEPS = 2, 8

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
    tool_errors: list[str] = field(default_factory=list)  # e.g. a query the SQL guard refused

    @property
    def refused(self) -> list[str]:
        return list(self.diagnosis.refused)


def diagnose(
    incident: Incident,
    evidence: list[Evidence],
    *,
    model: BaseChatModel | None,
    tools: list[BaseTool],
    phase: Phase,
    prior: Diagnosis | None = None,
    max_steps: int = 8,
    budget_s: float = 90.0,
    facts: list[Evidence] | None = None,
) -> AgentOutcome:
    """The incident's Diagnosis, by the model when one is configured and answers validly
    within `budget_s` seconds (each call gets at most what is left); else by the rules.
    `facts` (default: `evidence`) is everything gathered: a claimed category must fit it,
    whatever part of it the model was shown."""
    if model is None:
        return _by_rules(incident, evidence, phase, "diagnosed by rules; no LLM configured")
    by = model_id(model)
    agent = build_diagnostic_agent(
        model, tools, by=by, answer_schema=DiagnosisAnswer, check=check_answer
    )
    messages: list[BaseMessage] = [
        SystemMessage(render("diagnostic_system", max_steps=max_steps)),
        HumanMessage(_task(incident, evidence, phase, prior)),
    ]
    final = agent.invoke(
        {
            "incident": incident.model_dump(mode="json"),
            "evidence": [e.model_dump(mode="json") for e in evidence],
            "facts": [e.model_dump(mode="json") for e in (facts or evidence)],
            "deadline": deadline_after(budget_s),
            "budget_s": round(budget_s, 1),
            "max_steps": max_steps,
            "messages": messages,
            "known_ids": sorted({e.id for e in evidence}),
        },
        {"recursion_limit": STEPS_PER_TURN * max_steps + EXTRA_STEPS},
    )
    usage = Meter(**(final.get("usage") or {})).usage()
    transcript = list(final.get("messages") or [])
    tool_errors = list(final.get("tool_errors") or [])
    if final.get("diagnosis"):
        diagnosis = Diagnosis.model_validate(final["diagnosis"])
        diagnosis = diagnosis.model_copy(update={"note": f"{phase}: {diagnosis.note}"})
        return AgentOutcome(diagnosis, usage, transcript, diagnosis.note, tool_errors)
    refused = list(final.get("refused") or [])
    outcome = _by_rules(incident, evidence, phase, str(final.get("failure") or "no answer"))
    diagnosis = outcome.diagnosis.model_copy(update={"refused": refused})
    return AgentOutcome(diagnosis, usage, transcript, outcome.note, tool_errors)


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
