"""Per-run knobs, passed as `context=` (LangGraph's context_schema) and read through
`runtime.context` by the nodes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Context:
    """Knobs a caller may set for one run.

    - `model`: 'offline' or provider:model for this run (default: AGENTOPS_MODEL).
    - `approvers`: who may approve in this run. When AGENTOPS_APPROVERS is set, only names in
      both lists count (a caller can narrow the list, never widen it); when it is unset,
      this list is the whole list (the demo and evals name their own approver).
    - `auto_approve`: approve every request as `auto_approver` without interrupting; honoured
      only by graphs built with `allow_auto_approve=True` (the CLI's eval runs), never by the
      server's graph, so an API caller cannot skip a human.
    """

    model: str | None = None
    approvers: tuple[str, ...] = field(default_factory=tuple)
    auto_approve: bool = False
    auto_approver: str = "auto-approve"
