"""The incident lifecycle as a LangGraph StateGraph.

detect ─▶ triage ─▶ investigate ─▶ remediate ─▶ execute_action ⟲ ─▶ postmortem ─▶ END
   └─▶ END (nothing crossed a threshold)      request_approval ◀─┘ (approval-required)
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from agentops.graph.context import Context
from agentops.graph.nodes import Nodes
from agentops.graph.routing import route_after_detect, route_after_execute_action
from agentops.graph.services import Services
from agentops.graph.state import InputState, OutputState, State
from agentops.settings import Settings

IncidentGraph = CompiledStateGraph[State, Context, InputState, OutputState]


def build_graph(
    settings: Settings,
    *,
    checkpointer: Checkpointer = None,
    allow_auto_approve: bool = False,
) -> IncidentGraph:
    """Compile the graph. The LangGraph server supplies its own checkpointer, so the graph
    it loads is compiled without one; the CLI passes a SqliteSaver."""
    nodes = Nodes(Services(settings, allow_auto_approve=allow_auto_approve))
    graph = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    graph.add_node("detect", nodes.detect)
    graph.add_node("triage", nodes.triage)
    graph.add_node("investigate", nodes.investigate)
    graph.add_node("remediate", nodes.remediate)
    graph.add_node("execute_action", nodes.execute_action)
    graph.add_node("request_approval", nodes.request_approval)
    graph.add_node("postmortem", nodes.postmortem)

    graph.add_edge(START, "detect")
    graph.add_conditional_edges("detect", route_after_detect)
    graph.add_edge("triage", "investigate")
    graph.add_edge("investigate", "remediate")
    graph.add_edge("remediate", "execute_action")
    graph.add_conditional_edges("execute_action", route_after_execute_action)
    graph.add_edge("request_approval", "execute_action")
    graph.add_edge("postmortem", END)
    return graph.compile(checkpointer=checkpointer, name="agentops incident")
