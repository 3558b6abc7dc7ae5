"""The graph `langgraph.json` exposes to `langgraph dev` and LangGraph deployments.

Compiled without a checkpointer (the server brings its own), without auto-approval (an API
caller cannot skip a human), and trusting only the server's own authentication for who
answered (`agentops.server.auth`): a caller cannot claim an identity in the payload or the
run's context. Settings come from the server's environment.
"""

from agentops.graph.builder import build_graph
from agentops.graph.context import ServerContext
from agentops.graph.server_pass import build_pass_graph
from agentops.settings import Settings

graph = build_graph(Settings.load(), trust_local_identity=False, context_schema=ServerContext)
# the scheduler pass the server's cron runs (see `server_pass`)
scheduler_pass = build_pass_graph()
