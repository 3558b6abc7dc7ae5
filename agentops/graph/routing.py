"""Where the graph goes after a node. Routers return node names as Literals, so the drawn
graph (Studio, `agentops graph --mermaid`) shows every edge."""

from __future__ import annotations

from typing import Literal

from agentops.graph import records as r
from agentops.graph.state import State


def route_after_detect(state: State) -> Literal["triage", "__end__"]:
    return "triage" if state.get("incident") else "__end__"


def route_after_execute_action(
    state: State,
) -> Literal["request_approval", "execute_action", "postmortem"]:
    pending = state.get("pending_action")
    if pending and r.decision_for(state, pending) is None:
        return "request_approval"
    if state.get("cursor", 0) < len(r.plan(state).actions):
        return "execute_action"
    return "postmortem"
