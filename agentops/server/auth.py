"""Custom auth for the LangGraph server (`auth` in langgraph.json).

Every request carries a bearer token (or `x-api-key`, which Agent Inbox sends); its sha256
must match a person's entry in the policy file's `auth.tokens`. The authenticated person is
the identity the graph sees (`langgraph_auth_user_id`): an approval resumed by alice is
alice's, whatever name the payload types. A request without a known token is refused (401).

`disable_studio_auth: true` in langgraph.json matters: without it `langgraph dev` lets any
request that says `x-auth-scheme: langsmith` in as a Studio user, past this function.
"""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

from agentops.actions.policy import load_policy
from agentops.domain import APPROVAL_REQUIRED
from agentops.errors import ConfigError, DataError
from agentops.graph.state import validate_input
from agentops.settings import Settings

auth = Auth()


def person_for(token: str, settings: Settings | None = None) -> tuple[str, list[str]] | None:
    """(person, permissions) for a token, None for an unknown one. Read per request: a
    changed policy file applies without a restart."""
    people = load_policy(settings or Settings.load()).people
    name = people.person_for_token(token)
    if name is None:
        return None
    approves = any(name in people.approvers_for(kind) for kind in APPROVAL_REQUIRED)
    return name, ["approve"] if approves else []


def _token(authorization: str | None, headers: dict[bytes, bytes]) -> str:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return headers.get(b"x-api-key", b"").decode().strip()


@auth.authenticate
async def authenticate(authorization: str | None, headers: dict[bytes, bytes]) -> dict[str, Any]:
    token = _token(authorization, headers)
    if not token:
        raise Auth.exceptions.HTTPException(
            status_code=401,
            detail="a bearer token is required: `Authorization: Bearer <token>`, its sha256 "
            "listed under auth.tokens in the policy file",
        )
    try:
        found = person_for(token)
    except ConfigError as exc:
        raise Auth.exceptions.HTTPException(status_code=500, detail=str(exc)) from None
    if found is None:
        raise Auth.exceptions.HTTPException(status_code=401, detail="unknown token")
    name, permissions = found
    # no display_name: Studio's edits are recorded under the display name, so it is the identity
    return {"identity": name, "permissions": permissions}


@auth.on.threads.create_run
async def checked_run(ctx: Auth.types.AuthContext, value: Any) -> None:
    """A run's input is checked before it starts: an unknown key (`modelname`) or a bad
    `now` is refused with its reason instead of running over every model."""
    kwargs = value.get("kwargs") or {}
    try:
        validate_input(kwargs.get("input"))
    except DataError as exc:
        raise Auth.exceptions.HTTPException(status_code=422, detail=str(exc)) from None


@auth.on
async def people_only(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Every authenticated person may read and run incidents; whether an answer approves
    anything is decided in the graph, against the approvers of that action."""
    return None
