"""Where the graph goes after a node. Routers return node names as Literals, so the drawn
graph (Studio, `agentops graph --mermaid`) shows every edge."""

from __future__ import annotations

from typing import Literal

from agentops.graph import records as r
from agentops.graph.state import State


def route_after_detect(
    state: State,
) -> Literal["page", "request_approval", "await_recovery", "__end__"]:
    if not state.get("incident"):
        return "__end__"
    if state.get("resubmitted"):  # pick the wait back up; nothing restarts
        waiting = state.get("waiting_for")
        if waiting == "approval" and state.get("pending_action"):
            return "request_approval"
        if waiting == "recovery":
            return "await_recovery"
        return "__end__"
    return "page"


def route_after_execute_action(
    state: State,
) -> Literal["request_approval", "execute_action", "verify", "remediate"]:
    if state.get("replan"):
        return "remediate"  # a person's accepted edit changed the category
    pending = state.get("pending_action")
    if pending and r.decision_for(state, pending) is None:
        return "request_approval"
    if state.get("cursor", 0) < len(r.plan(state).actions):
        return "execute_action"
    return "verify"


def route_after_verify(state: State) -> Literal["postmortem", "await_recovery"]:
    return "postmortem" if (state.get("recovery") or {}).get("recovered") else "await_recovery"


def route_after_await_recovery(state: State) -> Literal["postmortem", "verify"]:
    return "postmortem" if state.get("closing") else "verify"
