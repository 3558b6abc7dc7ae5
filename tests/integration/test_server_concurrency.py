"""`langgraph dev --n-jobs-per-worker 10` with ten runs started at once over one SQLite state
store: every run succeeds and every incident is handled once (issue 15: 17-19 of 20 such
runs failed with 'database is locked' before writers waited their turn)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph_sdk import get_sync_client

from agentops.store import create_store_engine
from agentops.store.state_tables import action_log, incidents, messages
from tests.integration.fleet import monitoring_db
from tests.integration.test_langgraph_server import (
    GRAPH,
    POLICY,
    TOKENS,
    free_port,
    start_server,
)

pytestmark = pytest.mark.integration
RUNS = 10


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("busy-server")
    (home / "config.yaml").write_text(POLICY, encoding="utf-8")
    monitoring = monitoring_db(home / "monitoring.db", RUNS)
    state_url = f"sqlite:///{home / 'state.db'}"
    yield from start_server(
        home,
        free_port(),
        "--n-jobs-per-worker",
        str(RUNS),
        AGENTOPS_DATABASE_URL=monitoring,
        AGENTOPS_STATE_URL=state_url,
    )


def _run(url: str) -> dict[str, Any]:
    """One run of the incident graph with no model named: it scans and claims the most
    severe incident nobody holds."""
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    with get_sync_client(url=url, headers=headers) as client:
        thread = client.threads.create()
        run = client.runs.create(thread["thread_id"], GRAPH, input={})
        client.runs.join(thread["thread_id"], run["run_id"])
        done = client.runs.get(thread["thread_id"], run["run_id"])
        state = client.threads.get_state(thread["thread_id"])
    return {
        "status": done["status"],
        "values": state["values"],
        "thread": thread["thread_id"],
        "span": (done["created_at"], done["updated_at"]),
    }


def test_ten_simultaneous_runs_all_succeed_and_handle_each_incident_once(busy_server) -> None:
    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        results = list(pool.map(lambda _: _run(busy_server["url"]), range(RUNS)))

    assert [r["status"] for r in results] == ["success"] * RUNS, [
        (r["status"], (r["values"] or {}).get("errors")) for r in results
    ]
    spans = sorted(r["span"] for r in results)
    overlapping = sum(1 for a, b in pairwise(spans) if b[0] < a[1])
    assert overlapping >= RUNS // 2, f"the runs ran at the same time: {spans}"
    handled = [((r["values"] or {}).get("incident") or {}).get("incident_id") for r in results]
    assert None not in handled and len(set(handled)) == RUNS, f"one incident per run: {handled}"

    state = create_store_engine(f"sqlite:///{busy_server['home'] / 'state.db'}", role="state")
    try:
        with state.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.select(incidents)).mappings()]
            ledger = [dict(r) for r in conn.execute(sa.select(action_log)).mappings()]
            sent = [dict(r) for r in conn.execute(sa.select(messages)).mappings()]
    finally:
        state.dispose()
    assert sorted(r["model_name"] for r in rows) == [f"fraud_{i:02d}" for i in range(RUNS)]
    assert {r["incident_id"] for r in rows} == set(handled), "each incident by exactly one run"
    assert all(r["status"] == "awaiting_approval" for r in rows), [r["status"] for r in rows]
    keys = [r["idempotency_key"] for r in ledger]
    assert len(keys) == len(set(keys)) and all(r["status"] != "started" for r in ledger)
    pages = Counter(m["incident_id"] for m in sent if m["text"].startswith("🚨"))
    assert pages == dict.fromkeys(handled, 1), "one page per incident"
    texts = Counter((m["incident_id"], m["target"], m["text"]) for m in sent)
    assert [t for t, n in texts.items() if n > 1] == [], "no message queued twice"
    log = (busy_server["home"] / "server.log").read_text()
    assert "database is locked" not in log, log[-2000:]
    print(f"\nten runs at once: {json.dumps(Counter(r['status'] for r in results))}")
