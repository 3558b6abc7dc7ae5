"""Run the lifecycle in a child process and kill it (os._exit) at a chosen point, to test
that a resumed thread never repeats a side effect.

    python -m tests.unit.graph.crash_run HOME inside|between N

`inside`: die inside execute_action right after the N-th side effect, before the node's
checkpoint is written. `between`: die after the N-th execute_action step was checkpointed.
"""

from __future__ import annotations

import os
import sys

from agentops.graph import nodes
from agentops.graph.builder import build_graph
from agentops.graph.context import Context
from agentops.graph.runner import sqlite_checkpointer, start
from agentops.settings import Settings
from tests.conftest import NOW

CRASHED = 17


def main(home: str, mode: str, after: int) -> None:
    settings = Settings.load(home=home, approvers="alice", embeddings="lexical")
    calls = {"n": 0}
    real_execute = nodes.actions.execute

    def execute_then_die(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real_execute(*args, **kwargs)
        calls["n"] += 1
        if mode == "inside" and calls["n"] == after:
            os._exit(CRASHED)
        return result

    nodes.actions.execute = execute_then_die  # type: ignore[assignment]
    steps = {"n": 0}

    def on_event(node: str, update: dict) -> None:
        if node == "execute_action":
            steps["n"] += 1
            if mode == "between" and steps["n"] == after:
                os._exit(CRASHED)

    with sqlite_checkpointer(settings) as saver:
        graph = build_graph(settings, checkpointer=saver)
        thread = "crash-test-thread"
        print(thread, flush=True)
        start(
            graph, now=NOW, model_name=None, context=Context(), thread_id=thread, on_event=on_event
        )
    sys.exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
