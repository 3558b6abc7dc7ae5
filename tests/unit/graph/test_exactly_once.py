"""Never lose an incident, never act twice: a process killed (os._exit, as kill -9 does) at
random points — inside a node right after a side effect, between nodes, or while applying an
approval — leaves an incident the next pass takes over and finishes, with every message,
rollback and retrain exactly once. Ctrl-C and SIGTERM give the incident back at once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import queries as q
from agentops.store.state_tables import action_log, retrain_jobs
from agentops.store.tables import deployments, model_registry
from tests.conftest import NOW, make_stores
from tests.fakes.openai_server import scripted_openai
from tests.unit.graph.conftest import approve, incidents, run_pass

ROOT = Path(__file__).parents[3]
LEASE_S = 1.0

# (scenario, mode, after): a fixed random sample of kill points over four scenarios
_RNG = random.Random(20261130)
KILLS = [
    (scenario, mode, _RNG.randint(1, 9))
    for scenario in ("upstream_data_change", "bad_deployment", "pipeline_failure", "infrastructure")
    for mode in ("inside", "between")
]


def _settings(home: Path) -> Settings:
    return Settings.load(home=home, approvers="alice", embeddings="lexical", lease_s=LEASE_S)


def side_effects(stores: Stores, settings: Settings) -> dict[str, Any]:
    """What the outside world saw: outbox lines, retrain jobs, registry switches, ledger."""
    outbox = settings.outbox_dir / "outbox.jsonl"
    lines = outbox.read_text().splitlines() if outbox.exists() else []
    with stores.state.connect() as conn:
        jobs = conn.execute(sa.select(sa.func.count()).select_from(retrain_jobs)).scalar()
        ledger = {r.idempotency_key: r.status for r in conn.execute(sa.select(action_log))}
        messages = q.messages_for(conn)
    with stores.monitoring.connect() as conn:
        active = list(
            conn.execute(
                sa.select(model_registry.c.model_version).where(model_registry.c.active)
            ).scalars()
        )
        rollbacks = conn.execute(
            sa.select(sa.func.count())
            .select_from(deployments)
            .where(deployments.c.deployment_id.like("agentops-%"))
        ).scalar()
    texts = Counter(
        (entry["channel"], entry["target"], entry["text"]) for entry in map(json.loads, lines)
    )
    return {
        "outbox_lines": len(lines),
        "duplicate_texts": [t for t, n in texts.items() if n > 1],
        "messages": len(messages),
        "retrain_jobs": jobs,
        "active": active,
        "rollbacks": rollbacks,
        "ledger": ledger,
    }


def _child(home: Path, mode: str, after: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.unit.graph.crash_run", str(home), mode, str(after)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _settle(settings: Settings, stores: Stores) -> dict[str, Any]:
    """Passes until the incident waits for recovery (or is resolved): the dead worker's
    lease runs out first, then the pass takes its incident over."""
    for _ in range(4):
        time.sleep(LEASE_S + 0.2)
        run_pass(settings, NOW + timedelta(minutes=1), decide=approve)
        [row] = incidents(stores)
        if row["waiting_for"] == "recovery" or row["status"] == "resolved":
            return row
    raise AssertionError(f"the incident never settled: {row}")


@pytest.mark.parametrize(("scenario", "mode", "after"), KILLS, ids=lambda v: str(v))
def test_a_killed_pass_is_taken_over_without_repeating(
    tmp_path: Path, scenario: str, mode: str, after: int
) -> None:
    settings = _settings(tmp_path / "home")
    stores = make_stores(settings)
    from agentops.scenarios import seed_store

    seed_store(stores, NOW, scenario, hours=48)
    crashed = _child(settings.home, mode, after)
    assert crashed.returncode in {0, 17}, crashed.stderr
    row = _settle(settings, stores)
    assert row["status"] in {"monitoring", "escalated"}, "handled to its end or escalated"
    effects = side_effects(stores, settings)
    assert effects["duplicate_texts"] == []
    assert effects["outbox_lines"] == effects["messages"]
    assert all(status != "started" for status in effects["ledger"].values())
    if scenario == "upstream_data_change":
        assert effects["retrain_jobs"] == 1
    if scenario == "bad_deployment":
        assert effects["active"] == ["2.3.0"] and effects["rollbacks"] == 1


def test_a_killed_approve_after_the_action_ran_is_finished_by_the_next_pass(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path / "home")
    stores = make_stores(settings)
    from agentops.scenarios import seed_store

    seed_store(stores, NOW, "bad_deployment", hours=48)
    assert _child(settings.home, "none", 0).returncode == 0  # stops at the approval
    [row] = incidents(stores)
    assert row["waiting_for"] == "approval"
    died = _child(settings.home, "approve", 1)  # dies right after the rollback ran
    assert died.returncode == 17, died.stderr
    settled = _settle(settings, stores)
    assert settled["status"] == "monitoring"
    effects = side_effects(stores, settings)
    assert effects["active"] == ["2.3.0"] and effects["rollbacks"] == 1
    key = f"{row['incident_id']}|rollback_model|classifier_v2"
    assert effects["ledger"][key] == "succeeded"
    assert effects["duplicate_texts"] == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_exit_with_their_codes_and_free_the_incident(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    home = tmp_path / "home"
    settings = Settings.load(home=home, approvers="alice", embeddings="lexical", lease_s=600)
    stores = make_stores(settings)
    from agentops.scenarios import seed_store

    seed_store(stores, NOW, "upstream_data_change", hours=48)
    # a model that never answers keeps the run inside triage until the signal comes
    with scripted_openai([{"sleep": 120}] * 4) as server:
        env = {
            **os.environ,
            "AGENTOPS_HOME": str(home),
            "AGENTOPS_APPROVERS": "alice",
            "AGENTOPS_EMBEDDINGS": "lexical",
            "AGENTOPS_LEASE_SECONDS": "600",
            "AGENTOPS_MODEL": "openai:gpt-4o-mini",
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": server.base_url,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentops", "run", "--now", "2026-11-20T12:00:00Z"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:  # the page is out: it is working on the incident
            if line.startswith("page"):
                break
        deadline = time.monotonic() + 60
        while not server.requests:  # and waiting on the model
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out, err = proc.communicate()
                raise AssertionError(f"the run never asked the model: {out}{err}")
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert "free for the next pass" in err
    [row] = incidents(stores)
    assert row["lease_owner"] is None, "the lease was given back on the way out"
    # the next pass (even with a 10-minute lease) takes it over at once
    run_pass(settings, NOW + timedelta(minutes=1), decide=approve)
    [after] = incidents(stores)
    assert after["status"] in {"monitoring", "awaiting_approval"}
    assert side_effects(stores, settings)["duplicate_texts"] == []
