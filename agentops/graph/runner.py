"""Running incident threads in this process: checkpoints in the state store, leases held
while a thread runs, progress events, and one primitive to move any thread on (`drive`).

Checkpoints live where the state store is (AGENTOPS_STATE_URL): the same SQLite file by
default, PostgreSQL in production — so a thread interrupted in one process (or on one host)
is resumed by another.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agentops.clock import utcnow
from agentops.errors import ConfigError, StoreError
from agentops.graph.builder import IncidentGraph
from agentops.graph.context import Context
from agentops.graph.identity import Identity
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import incidents as store_incidents
from agentops.store.engine import (
    CONNECT_TIMEOUT_S,
    LOCK_TIMEOUT_S,
    db_error_text,
    describe_url,
    is_postgres,
    libpq_url,
    sqlite_file,
    use_wal,
)
from agentops.store.locks import lock_key

OnEvent = Callable[[str, dict[str, Any]], None]


def worker_id(kind: str) -> str:
    """This process as a lease holder: host, pid and a nonce (pids are reused)."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@contextmanager
def checkpointer_for(settings: Settings) -> Iterator[BaseCheckpointSaver[Any]]:
    """The state store's checkpointer: SqliteSaver in its SQLite file, PostgresSaver on
    PostgreSQL over a small connection pool that replaces a connection the server dropped
    (a `watch` outlives database restarts). PostgreSQL's tables are created once, under an
    advisory lock: concurrent `setup()` calls from workers starting together collide."""
    url = settings.resolved_state_url
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=LOCK_TIMEOUT_S)
        try:
            use_wal(conn)  # before SqliteSaver's own switch, which fails on a busy new file
            yield SqliteSaver(conn)
        finally:
            conn.close()
        return
    if not is_postgres(url):
        raise ConfigError(
            f"AGENTOPS_STATE_URL: no checkpointer for {describe_url(url)} (use sqlite:/// or "
            "postgresql://)"
        )
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    conninfo = libpq_url(url)
    where = describe_url(url)
    try:
        pg = psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot reach the state store at {where}: {db_error_text(exc)}") from None
    with pg:
        key = lock_key("checkpoint-setup")
        # polled, not a blocking pg_advisory_lock: setup's CREATE INDEX CONCURRENTLY waits
        # for every open statement, a blocked lock call included (a deadlock)
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while not (pg.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() or [0])[0]:
            if time.monotonic() > deadline:
                raise StoreError(
                    f"the state store at {where}: another process has been creating the "
                    f"checkpoint tables for over {LOCK_TIMEOUT_S} s"
                )
            time.sleep(0.2)
        try:
            PostgresSaver(pg).setup()  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise StoreError(
                f"the state store at {where}: cannot create the checkpoint tables: "
                f"{db_error_text(exc)}"
            ) from None
        finally:
            pg.execute("SELECT pg_advisory_unlock(%s)", (key,))
    # PostgresSaver needs autocommit; prepare_threshold=0 keeps it working behind PgBouncer
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=2,
        open=False,
        check=ConnectionPool.check_connection,
        name="agentops-checkpoints",
        timeout=LOCK_TIMEOUT_S,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    pool.open()
    try:
        yield PostgresSaver(pool)
    finally:
        pool.close()


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
    for chunk in graph.stream(
        payload, config, context=context, stream_mode="updates", durability="sync"
    ):
        for node, update in chunk.items():
            if on_event is not None and node != "__interrupt__":
                on_event(node, update or {})
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
