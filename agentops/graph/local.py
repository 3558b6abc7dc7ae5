"""Running the lifecycle in this process: the two stores, the graph with the state store's
checkpointer, and schedulers under this process's worker id. The CLI, `agentops serve`,
the eval runner and the demo all start here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from agentops.graph.builder import IncidentGraph, build_graph
from agentops.graph.context import Context
from agentops.graph.identity import Identity
from agentops.graph.runner import OnEvent, worker_id
from agentops.graph.scheduler import Decide, Scheduler
from agentops.settings import Settings
from agentops.store import Stores, open_monitoring, open_state
from agentops.store import incidents as store_incidents
from agentops.store.checkpoints import checkpointer_for


def open_stores(cfg: Settings) -> Stores:
    """The monitoring database (must exist) and the state store (created on first use)."""
    return Stores(
        monitoring=open_monitoring(cfg.resolved_database_url),
        state=open_state(cfg.resolved_state_url),
    )


@dataclass
class LocalRuntime:
    settings: Settings
    stores: Stores
    graph: IncidentGraph
    owner: str

    def scheduler(
        self,
        *,
        context: Context | None = None,
        decide: Decide | None = None,
        decider: Identity | None = None,
        on_event: OnEvent | None = None,
    ) -> Scheduler:
        return Scheduler(
            self.settings,
            self.graph,
            self.stores,
            owner=self.owner,
            context=context,
            decide=decide,
            decider=decider,
            on_event=on_event,
        )

    def release_all(self) -> None:
        """Give back every lease this process holds (Ctrl-C, SIGTERM, the end of a command):
        the next pass takes its incidents over at once instead of after the lease expires."""
        with self.stores.state.begin() as conn:
            store_incidents.release_all(conn, self.owner)


@contextmanager
def local_runtime(
    cfg: Settings, kind: str, stores: Stores | None = None, *, allow_auto_approve: bool = False
) -> Iterator[LocalRuntime]:
    opened = stores or open_stores(cfg)
    runtime: LocalRuntime | None = None
    try:
        with checkpointer_for(cfg) as saver:
            graph = build_graph(
                cfg, checkpointer=saver, stores=opened, allow_auto_approve=allow_auto_approve
            )
            runtime = LocalRuntime(cfg, opened, graph, worker_id(kind))
            yield runtime
    finally:
        if runtime is not None:
            runtime.release_all()
        if stores is None:
            opened.dispose()
