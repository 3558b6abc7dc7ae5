"""The Diagnostic Agent's loop as a LangGraph subgraph: each model call, each tool result and
each refusal is a checkpointed step (Studio shows it; a resumed run goes on from it).

    ask_model ─▶ run_tools ─▶ ask_model ... ─▶ check ─▶ END (the model's diagnosis)
        │                         │             │ └─▶ ask_model (one repair turn)
        └──────────────▶ fall_back ◀────────────┘ ─▶ END (the rules' diagnosis)

Invoked inside a node of the incident graph, it inherits the thread's checkpointer under
that node's namespace. Its state is its own (the wrapper maps the incident in and the
diagnosis out), so nothing it appends is added to the parent's lists a second time.
Every model call gets at most the time left before the incident's deadline; none left, or a
failed call, ends in the rules with a note saying why.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Annotated, Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel
from typing_extensions import TypedDict

from agentops.agents.llm import (
    BudgetExceeded,
    Meter,
    bind,
    call_within,
    failure_reason,
    json_from_text,
    message_text,
    model_failures,
    seconds_left,
    within,
)
from agentops.agents.preconditions import check_category
from agentops.domain import Diagnosis, Evidence, Incident
from agentops.tools.result import parse_tool_result

Json = dict[str, Any]
SUBMIT = "submit_diagnosis"
MAX_REPEATS = 2
# (incident, evidence shown, answer, ids it may cite, model id) -> (diagnosis, problems)
Checker = Callable[
    [Incident, list[Evidence], Any, set[str], str], tuple[Diagnosis | None, list[str]]
]


class DiagnosticState(TypedDict, total=False):
    # in
    incident: Json
    evidence: list[Json]  # what the model is shown
    facts: list[Json]  # everything gathered: a claimed category must fit these
    deadline: str
    budget_s: float
    max_steps: int
    # the loop
    messages: Annotated[list[AnyMessage], add_messages]
    known_ids: list[str]
    seen_calls: list[str]
    steps: int
    repeats: int
    final_only: bool  # only the submit tool is offered (steps spent, looping, repairing)
    answer: Any
    answer_call: str | None
    repaired: bool
    refused: Annotated[list[str], operator.add]  # private to this graph: no double counting
    tool_errors: Annotated[list[str], operator.add]  # calls a tool refused or failed
    usage: Json
    failure: str | None  # why the model's path ended without a usable answer
    # out
    diagnosis: Json | None


def build_diagnostic_agent(
    model: BaseChatModel,
    tools: list[BaseTool],
    *,
    by: str,
    answer_schema: type[BaseModel],
    check: Checker,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The subgraph for one diagnosis by `model` (reported as `by`) with read-only `tools`;
    `check` validates an answer (vocabulary, cited ids), the preconditions its category."""
    submit = StructuredTool.from_function(
        func=lambda **_: "",
        name=SUBMIT,
        description=answer_schema.__doc__ or "",
        args_schema=answer_schema,
    )
    by_name = {t.name: t for t in tools}
    with_tools = bind(model, [*tools, submit])
    final_only = bind(model, [submit])

    def ask_model(state: DiagnosticState) -> Json:
        meter = Meter(**(state.get("usage") or {}))
        runnable = final_only if state.get("final_only") else with_tools
        try:
            reply = call_within(runnable, list(state["messages"]), meter, state["deadline"])
        except BudgetExceeded:
            why = f"LLM gave no answer within the diagnosis budget ({state['budget_s']:g} s)"
            return {"failure": f"{why}; diagnosed by rules", "usage": meter.dump()}
        except model_failures() as exc:  # the model or its transport failed: the rules answer
            why = f"LLM failed: {failure_reason(exc)}; diagnosed by rules"
            return {"failure": why, "usage": meter.dump()}
        return {
            "messages": [reply],
            "usage": meter.dump(),
            "steps": state.get("steps", 0) + 1,
            "answer": None,
            "answer_call": None,
        }

    def run_tools(state: DiagnosticState) -> Json:
        reply = _last_reply(state)
        meter = Meter(**(state.get("usage") or {}))
        known, seen = set(state.get("known_ids") or []), list(state.get("seen_calls") or [])
        repeats = state.get("repeats", 0)
        out: list[AnyMessage] = [
            ToolMessage(
                "error: the arguments were not valid JSON; send them again",
                tool_call_id=bad.get("id") or "invalid",
            )
            for bad in reply.invalid_tool_calls
        ]
        answer, answer_call = None, None
        errors: list[str] = []
        for tool_call in reply.tool_calls:
            if tool_call["name"] == SUBMIT:
                answer, answer_call = tool_call["args"], tool_call.get("id")
                continue
            key = tool_call["name"] + json.dumps(tool_call["args"], sort_keys=True, default=str)
            if key in seen:
                repeats += 1
                content = "repeated call: its result is above; do not repeat it, submit instead"
            else:
                seen.append(key)
                content = _run_tool(by_name, tool_call, meter, state["deadline"])
                result = parse_tool_result(content)
                if result is not None:
                    known.update(result.evidence_ids)
                if result is not None and result.status == "error":
                    errors.append(f"{tool_call['name']}: {result.error}")
            out.append(ToolMessage(content, tool_call_id=tool_call.get("id") or ""))
        spent = state.get("steps", 0) >= state["max_steps"] or repeats >= MAX_REPEATS
        force = answer is None and spent and not state.get("final_only")
        if force:  # steps spent or the model loops: ask once more, with only the submit tool
            out.append(HumanMessage("Your step budget is spent. Call submit_diagnosis now."))
        return {
            "messages": out,
            "known_ids": sorted(known),
            "seen_calls": seen,
            "repeats": repeats,
            "answer": answer,
            "answer_call": answer_call,
            "final_only": bool(state.get("final_only") or force),
            "usage": meter.dump(),
            "tool_errors": errors,
        }

    def check_diagnosis(state: DiagnosticState) -> Json:
        incident = Incident.model_validate(state["incident"])
        evidence = [Evidence.model_validate(e) for e in state["evidence"]]
        answer, answer_call = state.get("answer"), state.get("answer_call")
        if answer is None:
            answer, answer_call = _answer_from(_last_reply(state))
        known = set(state.get("known_ids") or [])
        diagnosis, problems = check(incident, evidence, answer, known, by)
        refused: list[str] = []
        if diagnosis is not None:
            facts = [Evidence.model_validate(e) for e in state.get("facts") or state["evidence"]]
            refusal = check_category(incident, facts, diagnosis.category)
            if refusal is not None:
                refused, problems, diagnosis = [f"{by}: {refusal}"], [refusal], None
        if diagnosis is not None:
            notes = [diagnosis.note] + (["valid after one repair"] if state.get("repaired") else [])
            earlier = list(state.get("refused") or [])
            if earlier:
                notes.append("refused before the repair: " + "; ".join(earlier))
            accepted = diagnosis.model_copy(update={"note": "; ".join(notes), "refused": earlier})
            return {"diagnosis": accepted.model_dump(mode="json")}
        if state.get("repaired"):
            why = f"LLM answer invalid after one repair ({'; '.join(problems)}); diagnosed by rules"
            return {"failure": why, "refused": refused}
        feedback = (
            "Your diagnosis was rejected: " + "; ".join(problems) + ". Submit a corrected one."
        )
        message: AnyMessage = (
            ToolMessage(feedback, tool_call_id=answer_call)
            if answer_call
            else HumanMessage(feedback)
        )
        return {
            "messages": [message],
            "repaired": True,
            "final_only": True,
            "refused": refused,
            "answer": None,
            "answer_call": None,
        }

    graph = StateGraph(DiagnosticState)
    graph.add_node("ask_model", ask_model)
    graph.add_node("run_tools", run_tools)
    graph.add_node("check", check_diagnosis)
    graph.add_node("fall_back", _fall_back)
    graph.add_edge(START, "ask_model")
    graph.add_conditional_edges("ask_model", route_after_ask_model)
    graph.add_conditional_edges("run_tools", route_after_run_tools)
    graph.add_conditional_edges("check", route_after_check)
    graph.add_edge("fall_back", END)
    return graph.compile(name="diagnostic_agent")


def _fall_back(state: DiagnosticState) -> Json:
    """The model's path ended without a usable answer: the wrapper asks the rules."""
    return {"diagnosis": None}


def route_after_ask_model(
    state: DiagnosticState,
) -> Literal["run_tools", "check", "fall_back"]:
    if state.get("failure"):
        return "fall_back"
    reply = _last_reply(state)
    if state.get("final_only") or not (reply.tool_calls or reply.invalid_tool_calls):
        return "check"
    return "run_tools"


def route_after_run_tools(state: DiagnosticState) -> Literal["check", "ask_model"]:
    return "check" if state.get("answer") is not None else "ask_model"


def route_after_check(state: DiagnosticState) -> Literal["ask_model", "fall_back", "__end__"]:
    if state.get("diagnosis"):
        return "__end__"
    return "fall_back" if state.get("failure") else "ask_model"


def _last_reply(state: DiagnosticState) -> AIMessage:
    for message in reversed(state["messages"]):
        if isinstance(message, AIMessage):
            return message
    raise RuntimeError("no model reply in the agent's messages")  # a bug: routes ensure one


def _answer_from(reply: AIMessage) -> tuple[Any, str | None]:
    for tool_call in reply.tool_calls:
        if tool_call["name"] == SUBMIT:
            return tool_call["args"], tool_call.get("id")
    if reply.invalid_tool_calls or reply.tool_calls:
        return None, None
    return json_from_text(message_text(reply)), None


def _run_tool(by_name: dict[str, BaseTool], tool_call: Any, meter: Meter, deadline: str) -> str:
    tool = by_name.get(tool_call["name"])
    if tool is None:
        return json.dumps({"status": "error", "error": f"no tool named {tool_call['name']!r}"})
    meter.tool_calls += 1
    try:
        return str(within(seconds_left(deadline), lambda: tool.invoke(tool_call["args"])))
    except BudgetExceeded:
        return json.dumps({"status": "error", "error": "the diagnosis budget ran out"})
    except (ValueError, ToolException) as exc:  # bad arguments from the model: tell it
        return json.dumps({"status": "error", "error": f"bad call: {failure_reason(exc)}"})
