"""The README's cron recipe on a real `langgraph dev` server: three fires of the `pass`
graph over an incident with an approval. Each fire finds work or ends cleanly; the incident
keeps one thread (never orphaned), and the passes' own threads are deleted (no pile-up)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentops.clock import utcnow
from agentops.scenarios import seed_store
from agentops.settings import Settings
from agentops.store import claims, workers
from agentops.store import queries as q
from tests.conftest import make_stores
from tests.integration.test_langgraph_server import POLICY, as_person, free_port, start_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cron_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("cron-home")
    (home / "config.yaml").write_text(POLICY, encoding="utf-8")
    yield from start_server(home, free_port())


def _passes(home: Path) -> str | None:
    stores = make_stores(Settings.load(home=home))
    rows = [w for w in workers.latest(stores.state) if w["worker_id"] == "server-cron"]
    return rows[0]["detail"] if rows else None


def _wait_for_next_pass(home: Path, seen: str | None, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        detail = _passes(home)
        if detail is not None and detail != seen:
            return detail
        time.sleep(1)
    raise AssertionError(f"no cron fire within {timeout} s (last: {seen})")


def test_three_cron_fires_handle_an_incident_and_leave_no_orphan(cron_server) -> None:
    home = cron_server["home"]
    stores = make_stores(Settings.load(home=home))
    seed_store(stores, utcnow(), "bad_deployment", hours=48)
    with as_person(cron_server, "alice") as alice:
        alice.crons.create("pass", schedule="* * * * *", input={}, on_run_completed="delete")
        first = _wait_for_next_pass(home, None)
        # the first fire paged the incident and queued its run: it reaches the approval
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with stores.state.connect() as conn:
                waiting = claims.waiting(conn)
            if waiting:
                break
            time.sleep(1)
        [row] = waiting
        assert row["waiting_for"] == "approval"
        alice.runs.wait(row["thread_id"], "incident", command={"resume": {"decision": "approve"}})
        second = _wait_for_next_pass(home, first)
        third = _wait_for_next_pass(home, second)
        assert "paged 0" in third and "started 0" in third, "a quiet fire ends cleanly"
        threads = alice.threads.search(limit=100)
        assert [t["thread_id"] for t in threads] == [row["thread_id"]], "no pile-up, no orphan"
        assert threads[0]["metadata"]["incident_id"] == row["incident_id"]
        # each pass keeps the metadata current: threads can be searched by status
        found = alice.threads.search(metadata={"status": "monitoring"}, limit=10)
        assert [t["thread_id"] for t in found] == [row["thread_id"]]
        assert found[0]["metadata"]["waiting_for"] == "recovery"
        state = alice.threads.get_state(row["thread_id"])
        assert state["next"] == ["await_recovery"], "the incident still waits for recovery"
        runs = alice.runs.list(row["thread_id"], limit=50)
        assert len(runs) >= 4  # start, the approval, and a recovery check per later fire
    with stores.state.connect() as conn:
        incident = q.get_incident_row(conn, row["incident_id"])
    assert incident is not None and incident["status"] == "monitoring"
    paged = [m for m in q.messages_for(stores.state.connect().__enter__(), row["incident_id"])]
    assert sum(1 for m in paged if "|page|" in m["message_id"]) == 1
