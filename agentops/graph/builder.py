"""The incident lifecycle as a LangGraph StateGraph.

detect ─▶ page ─▶ triage ─▶ investigate ─▶ remediate ─▶ execute_action ⟲ ─▶ verify ─▶ postmortem
   └─▶ END (nothing to handle)          request_approval ◀─┘          │ ▲
                                                               await_recovery (durable wait)
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from agentops.graph.closing import ClosingNodes
from agentops.graph.context import Context, ServerContext
from agentops.graph.nodes import DiagnosisNodes
from agentops.graph.routing import (
    route_after_await_recovery,
    route_after_detect,
    route_after_execute_action,
    route_after_verify,
)
from agentops.graph.services import Services
from agentops.graph.state import InputState, OutputState, State
from agentops.graph.verification import VerificationNodes
from agentops.graph.walk import WalkNodes
from agentops.settings import Settings
from agentops.store import Stores

IncidentGraph = CompiledStateGraph[State, ServerContext, InputState, OutputState]


class Nodes(DiagnosisNodes, WalkNodes, VerificationNodes, ClosingNodes):
    """Every node, bound to the services they share."""


def build_graph(
    settings: Settings,
    *,
    checkpointer: Checkpointer = None,
    allow_auto_approve: bool = False,
    trust_local_identity: bool = True,
    stores: Stores | None = None,
    context_schema: type[ServerContext] = Context,
) -> IncidentGraph:
    """Compile the graph. The LangGraph server supplies its own checkpointer and trusts only
    its own authentication (`trust_local_identity=False`); the CLI passes the state store's
    checkpointer and the identity it verified at the terminal."""
    services = Services(
        settings,
        allow_auto_approve=allow_auto_approve,
        trust_local_identity=trust_local_identity,
        _stores=stores,
    )
    nodes = Nodes(services)
    graph = StateGraph(
        State, context_schema=context_schema, input_schema=InputState, output_schema=OutputState
    )
    graph.add_node("detect", nodes.detect)
    graph.add_node("page", nodes.page)
    graph.add_node("triage", nodes.triage)
    graph.add_node("investigate", nodes.investigate)
    graph.add_node("remediate", nodes.remediate)
    graph.add_node("execute_action", nodes.execute_action)
    graph.add_node("request_approval", nodes.request_approval)
    graph.add_node("verify", nodes.verify)
    graph.add_node("await_recovery", nodes.await_recovery)
    graph.add_node("postmortem", nodes.postmortem)

    graph.add_edge(START, "detect")
    graph.add_conditional_edges("detect", route_after_detect)
    graph.add_edge("page", "triage")
    graph.add_edge("triage", "investigate")
    graph.add_edge("investigate", "remediate")
    graph.add_edge("remediate", "execute_action")
    graph.add_conditional_edges("execute_action", route_after_execute_action)
    graph.add_edge("request_approval", "execute_action")
    graph.add_conditional_edges("verify", route_after_verify)
    graph.add_conditional_edges("await_recovery", route_after_await_recovery)
    graph.add_edge("postmortem", END)
    return graph.compile(checkpointer=checkpointer, name="agentops incident")
