"""Resuming a thread on the LangGraph server this app is mounted on (`http.app` in
langgraph.json), as the person behind a verified Slack click.

The in-process client (`langgraph_sdk.get_client()` with no URL) calls the server's own API
through `/noauth`, so the server's auth never sees the call: the identity is set here with
`with_user`, and the graph's resume node reads it as `langgraph_auth_user` — exactly as for
a request authenticated by a token. `with_user` and `SimpleUser` are langgraph-api internals
(0.16.x, docs: notes/langgraph_api.md §3); this module is the only one that touches them.
Nothing from the Slack payload is forwarded but the decision.
"""

from __future__ import annotations

import sys
from typing import Any

GRAPH_ID = "incident"  # the graph's name in langgraph.json


def mounted_on_server() -> bool:
    """True inside a LangGraph server process (it imported its app module to mount ours)."""
    return "langgraph_api.server" in sys.modules


async def has_thread(thread_id: str) -> bool:
    from langgraph_sdk import get_client
    from langgraph_sdk.errors import NotFoundError

    try:
        await get_client().threads.get(thread_id)
    except NotFoundError:
        return False
    return True


async def resume_as(person: str, thread_id: str, value: dict[str, Any], *, approves: bool) -> None:
    """Resume `thread_id` with `value` as `person` and wait for the run to finish."""
    from langgraph_api.auth.custom import SimpleUser
    from langgraph_api.utils import set_auth_ctx, with_user
    from langgraph_sdk import get_client

    client = get_client()
    # "via:slack" tells the graph how the person was verified; only server-side code can put
    # a permission here (a client's payload cannot), like the token auth's own permissions
    permissions = ["via:slack", *(["approve"] if approves else [])]
    async with with_user(SimpleUser(person), permissions):
        try:
            run = await client.runs.create(thread_id, GRAPH_ID, command={"resume": value})
        finally:
            set_auth_ctx(None, None)  # with_user leaves the identity behind when none was set
    await client.runs.join(thread_id, run["run_id"])
