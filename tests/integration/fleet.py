"""Shared pieces of the multi-worker tests: a monitoring database with a fleet of breaching
models on the wall clock (what `watch` reads), `agentops` as a child process, and the
exactly-once checks over a state store several workers shared."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from agentops.store import incidents as store_incidents
from agentops.store import open_monitoring
from agentops.store.load import load_tables
from agentops.store.state_tables import action_log, incidents, messages

ROOT = Path(__file__).parents[2]
SETTLED = {"awaiting_approval", "monitoring"}


def fleet_rows(models: int, now: datetime, *, hours: int = 6) -> list[dict[str, Any]]:
    """MODEL_METRICS for `models` models (fraud_00, fraud_01, ...): hourly windows up to the
    last full hour before `now`, healthy until the newest one, whose F1 fell to 0.55 (P1)."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = []
    for index in range(models):
        for hours_ago in range(hours, -1, -1):
            window_end = end - timedelta(hours=hours_ago)
            rows.append(
                {
                    "model_name": f"fraud_{index:02d}",
                    "model_version": "1.0.0",
                    "window_start": window_end - timedelta(hours=1),
                    "window_end": window_end,
                    "f1": 0.55 if hours_ago == 0 else 0.86,
                    "precision": 0.9,
                    "recall": 0.8,
                    "error_rate": 0.01,
                    "latency_p50_ms": 40.0,
                    "latency_p99_ms": 300.0,
                    "request_count": 1000,
                    "status": "up",
                }
            )
    return rows


def monitoring_db(path: Path, models: int) -> str:
    """A SQLite monitoring database every worker shares; returns its URL."""
    url = f"sqlite:///{path}"
    engine = open_monitoring(url, create=True)
    try:
        load_tables(engine, {"model_metrics": fleet_rows(models, datetime.now(UTC))})
    finally:
        engine.dispose()
    return url


def worker_env(home: Path, monitoring_url: str, state_url: str, **extra: str) -> dict[str, str]:
    """A worker's environment: its own AGENTOPS_HOME (as on its own host), the shared
    databases, offline diagnosis, alice as the approver."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AGENTOPS_HOME": str(home),
        "AGENTOPS_DATABASE_URL": monitoring_url,
        "AGENTOPS_STATE_URL": state_url,
        "AGENTOPS_EMBEDDINGS": "lexical",
        "AGENTOPS_MODEL": "offline",
        "AGENTOPS_APPROVERS": "alice",
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def spawn(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[str]:
    """`agentops ARGS` in the background, stdout and stderr to `log`."""
    with log.open("w", encoding="utf-8") as handle:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "agentops", *args],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )


def agentops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentops", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_clean(output: str) -> None:
    """No traceback and no error line (`error ...`, also as the CLI's `[red]error[/]`)."""
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if re.match(r"^(\[red\])?error\b", line)]
    assert errors == [], output


def incident_rows(state: sa.Engine) -> list[dict[str, Any]]:
    """The state store's incidents ([] before a worker created the store)."""
    if not sa.inspect(state).has_table(incidents.name):
        return []
    with state.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(incidents)).mappings()]


def outbox_lines(homes: list[Path]) -> list[dict[str, Any]]:
    """Every message any worker delivered to its local outbox file (no Slack configured)."""
    lines: list[dict[str, Any]] = []
    for home in homes:
        path = home / "outbox" / "outbox.jsonl"
        if path.exists():
            lines += [json.loads(line) for line in path.read_text().splitlines() if line]
    return lines


def exactly_once(state: sa.Engine, homes: list[Path], models: int) -> dict[str, Any]:
    """Assert every breaching model got one incident, handled by one thread to a settled
    state, with every side effect once; return the figures."""
    rows = incident_rows(state)
    assert sorted(r["model_name"] for r in rows) == [f"fraud_{i:02d}" for i in range(models)], (
        "one incident per breaching model"
    )
    unsettled = [(r["incident_id"], r["status"], r["waiting_for"]) for r in rows]
    assert all(r["status"] in SETTLED and r["waiting_for"] for r in rows), unsettled
    assert all(r["thread_id"] == store_incidents.thread_for(r["incident_id"]) for r in rows), (
        "each incident ran in its first thread: nobody started it a second time"
    )
    refused = [
        (r["incident_id"], entry["note"])
        for r in rows
        for entry in json.loads(r["timeline"] or "[]")
        if entry["phase"] == "answer_refused"
    ]
    assert refused == [], "no thread was resumed with an answer nobody gave"
    with state.connect() as conn:
        ledger = [dict(r) for r in conn.execute(sa.select(action_log)).mappings()]
        sent = [dict(r) for r in conn.execute(sa.select(messages)).mappings()]
        threads = conn.execute(sa.text("SELECT DISTINCT thread_id FROM checkpoints")).scalars()
        checkpointed = set(threads)
    assert checkpointed == {r["thread_id"] for r in rows}, "one checkpointed thread per incident"
    assert [r for r in ledger if r["status"] == "started"] == [], "no action left half-done"
    keys = [r["idempotency_key"] for r in ledger]
    assert len(set(keys)) == len(keys), "ledger keys unique (the primary key holds)"
    # replies in an incident's Slack thread read alike across incidents: compare per incident
    texts = Counter((m["incident_id"], m["channel"], m["target"], m["text"]) for m in sent)
    queued_twice = [t for t, n in texts.items() if n > 1]
    assert queued_twice == [], "no message queued twice"
    pages = Counter(m["incident_id"] for m in sent if m["text"].startswith("🚨"))
    assert pages == dict.fromkeys((r["incident_id"] for r in rows), 1), "one page per incident"
    delivered = outbox_lines(homes)
    delivered_texts = Counter(
        (m["incident_id"], m["channel"], m["target"], m["text"]) for m in delivered
    )
    delivered_twice = [t for t, n in delivered_texts.items() if n > 1]
    assert delivered_twice == [], "no message delivered twice"
    assert len(delivered) == len(sent), "every queued message delivered once, by one worker"
    return {
        "incidents": len(rows),
        "ledger_rows": len(ledger),
        "messages": len(sent),
        "duplicates": len(queued_twice) + len(delivered_twice),
        "statuses": dict(Counter(r["status"] for r in rows)),
    }
