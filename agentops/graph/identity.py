"""Who answered: an identity comes from something verified, never from a name typed into
a resume payload (CONTRACT.md, "Operating an incident").

- On the LangGraph server, the user the server's custom auth authenticated
  (`agentops.server.auth`): the server puts it in the run's configurable as
  `langgraph_auth_user`.
- In a local process (the CLI, `agentops serve`, the eval runner, the demo), the runner
  passes the identity it verified itself — the configured approver at the terminal, the
  Slack user behind a signed click — as `agentops_identity`. Only graphs built for local use
  trust that key; the server's graph ignores it, so an API caller cannot claim a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig

LOCAL_KEY = "agentops_identity"
SERVER_KEY = "langgraph_auth_user"
SERVER_ID_KEY = "langgraph_auth_user_id"
SERVER_PERMISSIONS_KEY = "langgraph_auth_permissions"


@dataclass(frozen=True)
class Identity:
    name: str
    via: str  # cli | server | slack | eval | demo | auto

    def as_config(self) -> dict[str, Any]:
        return {LOCAL_KEY: {"name": self.name, "via": self.via}}


def _server_user(user: Any) -> str | None:
    if user is None:
        return None
    if isinstance(user, dict):
        authenticated = user.get("is_authenticated", True)
        name = user.get("identity")
    else:
        authenticated = getattr(user, "is_authenticated", True)
        name = getattr(user, "identity", None)
    if not authenticated or not name:
        return None
    return str(name)


def identity_of(config: RunnableConfig | None, *, trust_local: bool) -> Identity | None:
    """The verified identity behind the current run, or None."""
    configurable = (config or {}).get("configurable") or {}
    server = _server_user(configurable.get(SERVER_KEY)) or configurable.get(SERVER_ID_KEY)
    if server:
        # the server strips these keys from a client's payload; server-side code (the Slack
        # route) marks how it verified the person
        permissions = configurable.get(SERVER_PERMISSIONS_KEY) or []
        via = "slack" if "via:slack" in permissions else "server"
        return Identity(str(server), via)
    if trust_local:
        local = configurable.get(LOCAL_KEY)
        if isinstance(local, dict) and local.get("name"):
            return Identity(str(local["name"]), str(local.get("via") or "local"))
    return None
