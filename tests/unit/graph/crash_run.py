"""A scheduler pass in a child process that dies (os._exit, like kill -9) at a chosen point,
to test that the next pass takes the incident over and never repeats a side effect.

    python -m tests.unit.graph.crash_run HOME MODE N

MODE:
- `inside`: die right after the N-th side effect (a page, a reply, an action, the
  resolution), before the node that made it is checkpointed;
- `between`: die after the N-th graph step was checkpointed;
- `approve`: answer the pending approval as alice (as `agentops approve` does: the answer is
  recorded first), and die right after the N-th side effect of that resume;
- `none`: run the pass to its end without answering approvals.
Exits 17 when it died on purpose, 0 when the point was never reached.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from agentops import actions
from agentops.clock import utcnow
from agentops.graph.identity import Identity
from agentops.graph.local import local_runtime
from agentops.settings import Settings
from agentops.store import answers, claims
from tests.conftest import NOW

CRASHED = 17
SIDE_EFFECTS = (
    "execute",
    "page_incident",
    "post_reply",
    "request_approval",
    "post_resolution",
    "publish_postmortem",
)


def _die_after(count: int) -> None:
    calls = {"n": 0}
    for name in SIDE_EFFECTS:
        real = getattr(actions, name)

        def wrapped(*args: Any, __real: Any = real, **kwargs: Any) -> Any:
            result = __real(*args, **kwargs)
            calls["n"] += 1
            if calls["n"] == count:
                os._exit(CRASHED)
            return result

        setattr(actions, name, wrapped)


def main(home: str, mode: str, after: int) -> None:
    settings = Settings.load(home=home, approvers="alice", embeddings="lexical", lease_s=1)
    steps = {"n": 0}

    def on_event(node: str, update: dict[str, Any]) -> None:
        steps["n"] += 1
        if mode == "between" and steps["n"] == after:
            os._exit(CRASHED)

    if mode in {"inside", "approve"}:
        _die_after(after)

    def approve(_payload: dict[str, Any]) -> dict[str, Any]:
        return {"decision": "approve", "comment": "ok"}

    with local_runtime(settings, "crash") as rt:
        if mode == "approve":
            with rt.stores.state.connect() as conn:
                [row] = [r for r in claims.waiting(conn) if r["waiting_for"] == "approval"]
            with rt.stores.state.begin() as conn:
                from agentops.graph.runner import snapshot

                pending = snapshot(rt.graph, row["thread_id"]).state.get("pending_action")
                answers.record_answer(
                    conn,
                    incident_id=row["incident_id"],
                    thread_id=row["thread_id"],
                    kind="approval",
                    action_key=pending,
                    decision="approve",
                    person="alice",
                    via="cli",
                    received_at=utcnow(),
                )
                [stored] = answers.unapplied(conn, row["thread_id"])
            rt.scheduler(on_event=on_event).apply_answer(stored)
        else:
            decide = approve if mode in {"inside", "between"} else None
            scheduler = rt.scheduler(
                decide=decide, decider=Identity("alice", "cli"), on_event=on_event
            )
            scheduler.run_pass(NOW)
    sys.exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
