"""Running incident threads in this process: checkpoints in the state store, leases held
while a thread runs, progress events, and one primitive to move any thread on (`drive`).

Checkpoints live where the state store is (AGENTOPS_STATE_URL): the same SQLite file by
default, PostgreSQL in production — so a thread interrupted in one process (or on one host)
is resumed by another.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from agentops.clock import utcnow
from agentops.graph.builder import IncidentGraph
from agentops.graph.context import Context
from agentops.graph.identity import Identity
from agentops.graph.records import progress_hook
from agentops.store import Stores
from agentops.store import incidents as store_incidents

OnEvent = Callable[[str, dict[str, Any]], None]


def worker_id(kind: str) -> str:
    """This process as a lease holder: host, pid and a nonce (pids are reused)."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class RunResult:
    thread_id: str
    state: dict[str, Any]
    pending: dict[str, Any] | None  # the interrupt value it waits on, if any

    @property
    def waiting_for(self) -> str | None:
        if self.pending is None:
            return None
        kind = self.pending.get("kind")
        return {"approval_request": "approval", "recovery_check": "recovery"}.get(str(kind))


def config_for(thread_id: str, identity: Identity | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id}
    if identity is not None:
        configurable.update(identity.as_config())
    return {"configurable": configurable}


class Lease:
    """Holds this worker's leases alive while a thread runs: renewed on a background timer,
    released at the end (also on Ctrl-C), so a dead worker's incidents are taken over within
    one lease and a stopped one's at once."""

    def __init__(self, stores: Stores, owner: str, seconds: float) -> None:
        self.stores, self.owner, self.seconds = stores, owner, seconds
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def take(self, incident_id: str, thread_id: str) -> bool:
        wall = utcnow()
        until = store_incidents.lease_expiry(wall, self.seconds)
        with self.stores.state.begin() as conn:
            return store_incidents.claim_incident(
                conn, incident_id, thread_id, owner=self.owner, until=until, wall=wall
            )

    def release(self, incident_id: str) -> None:
        with self.stores.state.begin() as conn:
            store_incidents.release_lease(conn, incident_id, self.owner)

    def __enter__(self) -> Lease:
        self._stop.clear()
        self._beat = threading.Thread(target=self._renew, name="agentops-lease", daemon=True)
        self._beat.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)

    def _renew(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            until = store_incidents.lease_expiry(utcnow(), self.seconds)
            try:
                with self.stores.state.begin() as conn:
                    store_incidents.renew_leases(conn, self.owner, until)
            except Exception:  # a missed renewal is retried; it must never kill the run
                continue


def advance(
    graph: IncidentGraph,
    thread_id: str,
    payload: Any,
    context: Context,
    *,
    identity: Identity | None = None,
    on_event: OnEvent | None = None,
) -> RunResult:
    """Run the thread until it ends or interrupts; report each node's update to `on_event`."""
    config = config_for(thread_id, identity)
    # durability="sync": each step's checkpoint is on disk before the next step starts, so a
    # process killed mid-node resumes from the last finished one
    # "updates" only: a custom stream would run each node on a worker thread, where Ctrl-C
    # cannot reach a node stuck on a hung model; progress events come through the hook
    hook = progress_hook.set(
        (lambda data: on_event("progress", data)) if on_event is not None else None
    )
    try:
        for chunk in graph.stream(
            payload, config, context=context, stream_mode="updates", durability="sync"
        ):
            for node, update in chunk.items():
                if on_event is not None and node != "__interrupt__":
                    on_event(node, update or {})
    finally:
        progress_hook.reset(hook)
    return snapshot(graph, thread_id)


def snapshot(graph: IncidentGraph, thread_id: str) -> RunResult:
    state = graph.get_state(config_for(thread_id))
    pending = state.interrupts[0].value if state.interrupts else None
    return RunResult(thread_id=thread_id, state=dict(state.values), pending=pending)


def drive(
    graph: IncidentGraph,
    thread_id: str,
    value: Any,
    context: Context,
    *,
    identity: Identity | None = None,
    on_event: OnEvent | None = None,
) -> RunResult:
    """Move a thread on from wherever it is: resume its interrupt with `value`, or continue
    a thread that stopped mid-way (killed, crashed) from its last checkpoint; a thread that
    has ended is left as it is."""
    current = graph.get_state(config_for(thread_id))
    if current.interrupts:
        return advance(
            graph, thread_id, Command(resume=value), context, identity=identity, on_event=on_event
        )
    if current.next:
        return advance(graph, thread_id, None, context, identity=identity, on_event=on_event)
    return snapshot(graph, thread_id)
