"""Every Slack message, rollback and retrain happens once: when the graph is invoked again,
resumed twice, or its process is killed between or inside nodes and the thread resumed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.graph.builder import build_graph
from agentops.graph.context import Context
from agentops.graph.runner import advance, resume, run_incident, sqlite_checkpointer, start
from agentops.store import queries as q
from agentops.store.tables import action_log, model_registry, retrain_jobs
from tests.conftest import NOW
from tests.unit.graph.conftest import APPROVER

ROOT = Path(__file__).parents[3]
APPROVE = {"decision": "approve", "approver": APPROVER, "comment": "ok"}


def side_effects(engine: sa.Engine, settings) -> dict[str, object]:
    """What the outside world saw: outbox lines, retrain jobs, registry switches, ledger."""
    outbox = settings.outbox_dir / "outbox.jsonl"
    lines = outbox.read_text().splitlines() if outbox.exists() else []
    with engine.connect() as conn:
        jobs = conn.execute(sa.select(sa.func.count()).select_from(retrain_jobs)).scalar()
        active = (
            conn.execute(sa.select(model_registry.c.model_version).where(model_registry.c.active))
            .scalars()
            .all()
        )
        ledger = conn.execute(sa.select(action_log.c.idempotency_key)).scalars().all()
        messages = q.messages_for(conn)
    texts = Counter(
        (entry["channel"], entry["target"], entry["text"]) for entry in map(json.loads, lines)
    )
    return {
        "outbox_lines": len(lines),
        "duplicate_texts": [t for t, n in texts.items() if n > 1],
        "messages": len(messages),
        "retrain_jobs": jobs,
        "active": active,
        "ledger": sorted(ledger),
    }


def test_invoking_again_opens_nothing_and_sends_nothing(graph_settings, seeded) -> None:
    engine = seeded("upstream_data_change")
    run_incident(graph_settings, now=NOW, decide=lambda p: APPROVE)
    before = side_effects(engine, graph_settings)
    assert before["retrain_jobs"] == 1 and before["duplicate_texts"] == []
    # the same clock, then an hour later while the condition persists
    for later in (NOW, NOW + timedelta(minutes=30)):
        again = run_incident(graph_settings, now=later, decide=lambda p: APPROVE)
        assert again["incident"] is None
    assert side_effects(engine, graph_settings) == before


def test_resuming_twice_does_not_act_twice(graph_settings, seeded) -> None:
    engine = seeded("bad_deployment")
    with sqlite_checkpointer(graph_settings) as saver:
        graph = build_graph(graph_settings, checkpointer=saver)
        first = start(graph, now=NOW, model_name=None, context=Context())
        assert first.pending is not None
        done = resume(graph, first.thread_id, APPROVE, Context())
        assert done.pending is None
        before = side_effects(engine, graph_settings)
        resume(graph, first.thread_id, APPROVE, Context())  # a duplicate delivery of the answer
    after = side_effects(engine, graph_settings)
    assert after == before
    assert after["active"] == ["2.3.0"]
    rollbacks = [k for k in after["ledger"] if "|rollback_model|" in k]  # type: ignore[union-attr]
    assert len(rollbacks) == 1


@pytest.mark.parametrize(
    ("mode", "after"),
    [("inside", 1), ("inside", 3), ("between", 2), ("inside", 6)],
    ids=["after-first-slack", "mid-plan", "between-nodes", "after-retrain"],
)
def test_a_killed_process_resumes_without_repeating(graph_settings, seeded, mode, after) -> None:
    engine = seeded("upstream_data_change")
    if mode == "inside" and after == 6:
        # the 6th side effect is the approved retrain: crash right after it, in a second child
        _child(graph_settings.home, "between", 99)  # runs to the approval and stops
    else:
        crashed = _child(graph_settings.home, mode, after)
        assert crashed.returncode == 17, crashed.stderr
    with sqlite_checkpointer(graph_settings) as saver:
        graph = build_graph(graph_settings, checkpointer=saver)
        result = advance(graph, "crash-test-thread", None, Context())
        while result.pending is not None:
            if mode == "inside" and after == 6:
                _crash_during_resume(graph_settings)
                result = advance(graph, "crash-test-thread", None, Context())
                continue
            result = resume(graph, "crash-test-thread", APPROVE, Context())
    assert result.state["incident"]["status"] == "resolved"
    effects = side_effects(engine, graph_settings)
    assert effects["duplicate_texts"] == []
    assert effects["retrain_jobs"] == 1
    assert effects["outbox_lines"] == effects["messages"]
    kinds = Counter(k.split("|")[1] for k in effects["ledger"])  # type: ignore[union-attr]
    assert kinds["retrain_model"] == 1 and kinds["notify_slack"] == 2


def _child(home: Path, mode: str, after: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.unit.graph.crash_run", str(home), mode, str(after)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _crash_during_resume(settings) -> None:
    """Approve in a child process that dies right after the retrain ran."""
    script = (
        "import os, sys\n"
        "from agentops.graph import nodes\n"
        "from agentops.graph.builder import build_graph\n"
        "from agentops.graph.context import Context\n"
        "from agentops.graph.runner import resume, sqlite_checkpointer\n"
        "from agentops.settings import Settings\n"
        f"s = Settings.load(home={str(settings.home)!r}, approvers='alice', embeddings='lexical')\n"
        "real = nodes.actions.execute\n"
        "def die(*a, **k):\n"
        "    r = real(*a, **k)\n"
        "    if a[3].type.value == 'retrain_model': os._exit(17)\n"
        "    return r\n"
        "nodes.actions.execute = die\n"
        "with sqlite_checkpointer(s) as saver:\n"
        "    g = build_graph(s, checkpointer=saver)\n"
        f"    resume(g, 'crash-test-thread', {APPROVE!r}, Context())\n"
    )
    crashed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert crashed.returncode == 17, crashed.stderr
