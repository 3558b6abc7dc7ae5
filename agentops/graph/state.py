"""The incident graph's state: what a caller sends, what the nodes share, what comes out.

State holds plain JSON (domain records dumped with `model_dump(mode="json")`): the
checkpointer stores it without a class allow-list, the LangGraph server and Studio show it
as is, and nodes validate it back into domain records at the edge (`records.py`).
Append-only fields use explicit reducers.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

Json = dict[str, Any]


def add_usage(left: Json | None, right: Json | None) -> Json:
    """LLM usage accumulates across nodes: calls, tokens in/out, tool calls."""
    out = dict(left or {})
    for key, value in (right or {}).items():
        out[key] = out.get(key, 0) + value
    return out


class InputState(TypedDict, total=False):
    """What a caller sends. Both optional: all models, and the wall clock read once."""

    model_name: str | None
    now: str | None


class OutputState(TypedDict, total=False):
    """What a caller gets back (and what `agentops eval` scores)."""

    incident: Json | None
    diagnosis: Json | None
    action_plan: Json | None
    actions_taken: list[Json]
    escalated_to: list[str]
    postmortem_path: str | None
    summary: str
    llm_usage: Json


class State(InputState, OutputState, total=False):
    """Everything the nodes share."""

    clock: str  # the run's `now`, resolved once by `detect`
    started_wall: str  # wall time when the run started: timeline stamps add elapsed time
    alerts: list[Json]
    evidence: list[Json]  # gathered once by triage from the store; tools add their own
    runbook_hits: list[Json]
    cursor: int  # the next action of the plan to walk
    pending_action: str | None  # ledger key of the action awaiting a human
    # append-only
    actions_taken: Annotated[list[Json], operator.add]
    approvals: Annotated[list[Json], operator.add]
    timeline: Annotated[list[Json], operator.add]
    notes: Annotated[list[str], operator.add]
    messages: Annotated[list[AnyMessage], add_messages]
    llm_usage: Annotated[Json, add_usage]
