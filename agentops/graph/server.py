"""The graph `langgraph.json` exposes to `langgraph dev` and LangGraph deployments.

Compiled without a checkpointer (the server brings its own) and without auto-approval
(an API caller cannot skip a human). Settings come from the server's environment.
"""

from agentops.graph.builder import build_graph
from agentops.settings import Settings

graph = build_graph(Settings.load())
