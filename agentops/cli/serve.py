"""`agentops serve`: Slack's interactivity callbacks and a health check over HTTP.

    POST /slack/interactions   Approve / Reject (and Acknowledge) clicks, signed by Slack
    GET  /healthz              the workers' last passes; 503 when none passed recently

Point the Slack app's Interactivity Request URL at `https://<host>/slack/interactions`. The
threads are resumed in this process, on the state store's checkpoints (the same ones
`watch` and `approve` use). The same app runs on the LangGraph server through `http.app`.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from agentops.cli.app import app, console, settings, warn
from agentops.errors import ConfigError


@app.command("serve")
def serve(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on")] = 8000,
    host: Annotated[
        str, typer.Option("--host", help="address to bind (0.0.0.0: every interface)")
    ] = "127.0.0.1",
    stale_after: Annotated[
        float,
        typer.Option(
            "--stale-after",
            min=1,
            help="/healthz answers 503 when no worker finished a pass within this many seconds",
        ),
    ] = 180.0,
) -> None:
    """Answer Slack's button clicks (POST /slack/interactions) and health checks (GET /healthz)."""
    import uvicorn

    from agentops.server.app import create_app
    from agentops.store import describe, open_state

    _can_listen(host, port)
    cfg = settings()
    state = open_state(cfg.resolved_state_url)  # a missing or old store fails here, not per click
    where = describe(state)
    state.dispose()
    if cfg.slack_signing_secret is None:
        warn("AGENTOPS_SLACK_SIGNING_SECRET is not set: every Slack click is refused (503)")
    if cfg.slack_token is None:
        warn(
            "AGENTOPS_SLACK_TOKEN is not set: decisions are not shown on the Slack messages "
            "and nobody is told in Slack"
        )
    console.print(
        f"agentops serve on http://{host}:{port} (state store {where}): "
        "POST /slack/interactions, GET /healthz"
    )
    uvicorn.run(
        create_app(cfg, resume="local", stale_after_s=stale_after),
        host=host,
        port=port,
        log_level="warning",
    )


def _can_listen(host: str, port: int) -> None:
    """A port in use is one line and exit 1 here, not uvicorn's log line and exit 3."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None
