"""The Action Agent's turn as a LangGraph subgraph: the model's proposal, and code reading and
validating it (the tool node: what code kept, dropped and changed), are checkpointed steps.

    ask_model ─▶ read_plan ─▶ END (the validated plan)
        │   ▲        │
        │   └────────┘ (one repair when the proposal cannot be read)
        └─────────▶ fall_back ─▶ END (the rules' plan)

As with the Diagnostic Agent, the state is private (no reducer on a key the parent shares)
and each call gets at most the time left before the incident's deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import StructuredTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel
from typing_extensions import TypedDict

from agentops.agents.floor import credit_note, validate_plan
from agentops.agents.llm import (
    BudgetExceeded,
    Meter,
    bind,
    call_within,
    failure_reason,
    model_failures,
)
from agentops.domain import Diagnosis, Evidence, Incident
from agentops.settings import Settings

Json = dict[str, Any]
PROPOSE = "propose_plan"
ATTEMPTS = 2  # the proposal, and one repair when it cannot be read
# reply -> (proposed actions or None, the tool call's id, the problem)
Reader = Callable[[Any], tuple[list[Any] | None, str | None, str]]


class PlannerState(TypedDict, total=False):
    # in
    incident: Json
    diagnosis: Json
    evidence: list[Json]
    deadline: str
    budget_s: float
    # the turn
    messages: Annotated[list[AnyMessage], add_messages]
    attempts: int
    usage: Json
    failure: str | None
    # out
    plan: Json | None
    note: str


def build_planner_agent(
    model: BaseChatModel,
    *,
    by: str,
    schema: type[BaseModel],
    read: Reader,
    settings: Settings | None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The subgraph for one plan proposed by `model` (reported as `by`); `read` takes the
    proposal out of a reply, `validate_plan` decides what is kept."""
    tool = StructuredTool.from_function(
        func=lambda **_: "", name=PROPOSE, description=schema.__doc__ or "", args_schema=schema
    )
    bound = bind(model, [tool])

    def ask_model(state: PlannerState) -> Json:
        meter = Meter(**(state.get("usage") or {}))
        try:
            reply = call_within(bound, list(state["messages"]), meter, state["deadline"])
        except BudgetExceeded:
            why = f"LLM gave no plan within the diagnosis budget ({state['budget_s']:g} s)"
            return {"failure": f"{why}; planned by rules", "usage": meter.dump()}
        except model_failures() as exc:  # the model or its transport failed: the rules plan
            why = f"LLM failed: {failure_reason(exc)}; planned by rules"
            return {"failure": why, "usage": meter.dump()}
        return {
            "messages": [reply],
            "usage": meter.dump(),
            "attempts": state.get("attempts", 0) + 1,
        }

    def read_plan(state: PlannerState) -> Json:
        reply = next(m for m in reversed(state["messages"]) if isinstance(m, AIMessage))
        proposed, call_id, problem = read(reply)
        if proposed is not None:
            incident = Incident.model_validate(state["incident"])
            diagnosis = Diagnosis.model_validate(state["diagnosis"])
            evidence = [Evidence.model_validate(e) for e in state.get("evidence") or []]
            checked = validate_plan(
                incident, diagnosis, proposed, evidence=evidence, settings=settings, by=by
            )
            return {"plan": checked.model_dump(mode="json"), "note": credit_note(checked, by)}
        if state.get("attempts", 0) >= ATTEMPTS:
            why = f"LLM plan unusable after one repair ({problem}); planned by rules"
            return {"failure": why}
        feedback = f"Your plan could not be read ({problem}). Call {PROPOSE} again."
        message: AnyMessage = (
            ToolMessage(feedback, tool_call_id=call_id) if call_id else HumanMessage(feedback)
        )
        return {"messages": [message]}

    graph = StateGraph(PlannerState)
    graph.add_node("ask_model", ask_model)
    graph.add_node("read_plan", read_plan)
    graph.add_node("fall_back", _fall_back)
    graph.add_edge(START, "ask_model")
    graph.add_conditional_edges("ask_model", route_after_ask_model)
    graph.add_conditional_edges("read_plan", route_after_read_plan)
    graph.add_edge("fall_back", END)
    return graph.compile(name="planner_agent")


def _fall_back(state: PlannerState) -> Json:
    """No usable proposal: the wrapper plans by the rules."""
    return {"plan": None}


def route_after_ask_model(state: PlannerState) -> Literal["read_plan", "fall_back"]:
    return "fall_back" if state.get("failure") else "read_plan"


def route_after_read_plan(state: PlannerState) -> Literal["ask_model", "fall_back", "__end__"]:
    if state.get("plan"):
        return "__end__"
    return "fall_back" if state.get("failure") else "ask_model"
