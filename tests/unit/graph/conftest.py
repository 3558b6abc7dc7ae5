"""Graph tests: a seeded home and one scheduler pass at a time, as `agentops run` does it.

Two days of history is enough for every scenario's signature and keeps each pass to a
couple of seconds. Approvals are answered by `alice`, identified as a local operator (the
runner passes her identity; a name typed into the answer would count for nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentops.graph.context import Context
from agentops.graph.identity import Identity
from agentops.graph.local import local_runtime
from agentops.graph.runner import RunResult, snapshot
from agentops.graph.scheduler import Decide, PassReport
from agentops.scenarios import recovery_rows, seed_store
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import queries as q
from agentops.store.load import load_tables
from tests.conftest import NOW, make_stores

APPROVER = "alice"
ALICE = Identity(APPROVER, "cli")


def approve(_payload: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "approve", "comment": "go"}


def reject(_payload: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "reject", "comment": "not at peak"}


@pytest.fixture
def graph_settings(tmp_path: Path) -> Settings:
    # lexical embeddings: retrieval is not under test here, and it needs no model file
    return Settings.load(home=tmp_path / "home", approvers=APPROVER, embeddings="lexical")


@pytest.fixture
def seeded(graph_settings: Settings) -> Callable[[str | None], Stores]:
    def seed(scenario: str | None) -> Stores:
        stores = make_stores(graph_settings)
        seed_store(stores, NOW, scenario, hours=48)
        return stores

    return seed


def run_pass(
    settings: Settings,
    now: datetime = NOW,
    *,
    decide: Decide | None = None,
    decider: Identity | None = ALICE,
    context: Context | None = None,
    model: str | None = None,
) -> PassReport:
    """One scheduler pass in this process; approvals answered by `decide` (None: nobody)."""
    with local_runtime(settings, "test") as rt:
        report = rt.scheduler(context=context, decide=decide, decider=decider).run_pass(now, model)
    assert report.errors == [], report.errors
    return report


def incidents(stores: Stores) -> list[dict[str, Any]]:
    with stores.state.connect() as conn:
        return list(reversed(q.list_incidents(conn, limit=100)))


def only_incident(stores: Stores) -> dict[str, Any]:
    [row] = incidents(stores)
    return row


def thread(settings: Settings, thread_id: str) -> RunResult:
    with local_runtime(settings, "test") as rt:
        return snapshot(rt.graph, thread_id)


def recover(
    stores: Stores, scenario: str, windows: int, *, after: int = 0, version: str | None = None
) -> None:
    """The scenario's healthy windows number `after`+1 .. `windows` after NOW arrive (1 h
    each; the fixed pipeline run with the first)."""
    rows = recovery_rows(NOW, scenario, windows=windows, version=version)
    start = NOW + timedelta(hours=after)
    fresh = {
        name: [
            r
            for r in table
            if (r.get("window_start") or start) >= start and (after == 0 or "window_start" in r)
        ]
        for name, table in rows.items()
    }
    load_tables(stores.monitoring, {k: v for k, v in fresh.items() if v})
