"""Running the graph from Python and the CLI: durable threads in SQLite, progress events,
and approvals answered by a callback (evals, the demo) or later from another process."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Checkpointer, Command

from agentops.clock import iso
from agentops.graph.builder import IncidentGraph, build_graph
from agentops.graph.context import Context
from agentops.settings import Settings

Decide = Callable[[dict[str, Any]], dict[str, Any]]
OnEvent = Callable[[str, dict[str, Any]], None]


@contextmanager
def sqlite_checkpointer(settings: Settings) -> Iterator[SqliteSaver]:
    """Checkpoints in $AGENTOPS_HOME/checkpoints.sqlite: a thread interrupted by one process
    resumes in another."""
    settings.home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(settings.checkpoint_path), check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


@dataclass
class RunResult:
    thread_id: str
    state: dict[str, Any]
    pending: dict[str, Any] | None  # the approval request it waits for, if any


def config_for(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def advance(
    graph: IncidentGraph,
    thread_id: str,
    payload: Any,
    context: Context,
    on_event: OnEvent | None = None,
) -> RunResult:
    """Run until the graph ends or interrupts; report each node's update to `on_event`."""
    config = config_for(thread_id)
    # durability="sync": each step's checkpoint is on disk before the next step starts, so a
    # process killed between nodes resumes from the last finished one
    for chunk in graph.stream(
        payload, config, context=context, stream_mode="updates", durability="sync"
    ):
        for node, update in chunk.items():
            if on_event is not None and node != "__interrupt__":
                on_event(node, update or {})
    snapshot = graph.get_state(config)
    pending = snapshot.interrupts[0].value if snapshot.interrupts else None
    return RunResult(thread_id=thread_id, state=dict(snapshot.values), pending=pending)


def start(
    graph: IncidentGraph,
    *,
    now: datetime | None,
    model_name: str | None,
    context: Context,
    thread_id: str | None = None,
    on_event: OnEvent | None = None,
) -> RunResult:
    inputs = {"model_name": model_name, "now": iso(now) if now else None}
    return advance(graph, thread_id or uuid.uuid4().hex, inputs, context, on_event)


def resume(
    graph: IncidentGraph,
    thread_id: str,
    answer: dict[str, Any],
    context: Context,
    on_event: OnEvent | None = None,
) -> RunResult:
    return advance(graph, thread_id, Command(resume=answer), context, on_event)


def run_incident(
    settings: Settings,
    *,
    now: datetime,
    model_name: str | None = None,
    decide: Decide | None = None,
    context: Context | None = None,
    checkpointer: Checkpointer = None,
    on_event: OnEvent | None = None,
) -> dict[str, Any]:
    """The whole lifecycle in one call, answering each approval with `decide(payload)`.

    Without `decide`, the run stops at the first approval and the state says what is
    pending. Returns the final state (the OutputState keys and the rest).
    """
    graph = build_graph(settings, checkpointer=checkpointer or InMemorySaver())
    ctx = context or Context()
    result = start(graph, now=now, model_name=model_name, context=ctx, on_event=on_event)
    # bounded: a plan holds at most a handful of approval-required actions, and an invalid
    # answer is asked again, so a decide() that never answers validly must not loop forever
    for _ in range(20):
        if result.pending is None or decide is None:
            break
        result = resume(graph, result.thread_id, decide(result.pending), ctx, on_event)
    state = dict(result.state)
    state["pending"] = result.pending
    state["thread_id"] = result.thread_id
    return state


def pending_threads(graph: IncidentGraph, thread_ids: list[str]) -> list[RunResult]:
    """Of the given threads, those waiting for an approval."""
    waiting = []
    for thread_id in thread_ids:
        snapshot = graph.get_state(config_for(thread_id))
        if snapshot.interrupts:
            waiting.append(
                RunResult(thread_id, dict(snapshot.values), snapshot.interrupts[0].value)
            )
    return waiting
