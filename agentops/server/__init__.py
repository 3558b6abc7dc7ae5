"""What runs inside a server: the LangGraph server's custom auth (`auth.py`) and the HTTP app
for Slack's interactivity callbacks and health checks (`app.py`, `agentops serve`)."""
