"""Per-run knobs, passed as `context=` (LangGraph's context_schema) and read through
`runtime.context` by the nodes. The server's graph offers only `ServerContext`: knobs it
would ignore (auto-approval) are not offered to Studio or API callers at all."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServerContext:
    """Knobs a caller may set for one run.

    - `model`: 'offline' or provider:model for this run (default: AGENTOPS_MODEL).
    - `approvers`: narrows who may approve in this run to these names; it can never widen
      the policy file's `approvers` (or AGENTOPS_APPROVERS), and names outside them count
      for nothing.
    """

    model: str | None = field(
        default=None,
        metadata={
            "description": "'offline' or provider:model for this run (default: the "
            "server's AGENTOPS_MODEL)"
        },
    )
    approvers: tuple[str, ...] = field(
        default_factory=tuple,
        metadata={
            "description": "narrow who may approve in this run (never widens the policy "
            "file's approvers)"
        },
    )


@dataclass(frozen=True)
class Context(ServerContext):
    """The local knobs too: `auto_approve` approves every request as `auto_approver` without
    interrupting; honoured only by graphs built with `allow_auto_approve=True` (local test
    runs), never by the server's graph, so an API caller cannot skip a human."""

    auto_approve: bool = False
    auto_approver: str = "auto-approve"
