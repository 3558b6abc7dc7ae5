"""`agentops demo`, `run`, `threads` and `approve` as separate processes, as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

NOW = "2026-11-20T12:00:00Z"


def agentops(home: Path, *args: str, approvers: str = "alice") -> subprocess.CompletedProcess[str]:
    env = {
        "AGENTOPS_HOME": str(home),
        "AGENTOPS_APPROVERS": approvers,
        "AGENTOPS_EMBEDDINGS": "lexical",
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "agentops", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_demo_runs_the_whole_lifecycle_and_says_what_it_is(home) -> None:
    demo = agentops(home, "demo", "--yes", approvers="")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    out = demo.stdout
    assert "not a language model" in out and "local" in out and "outbox" in out
    for phase in ("detect", "triage", "investigate", "remediate", "postmortem"):
        assert phase in out
    assert "retrain_model → classifier_v2: succeeded (approved by demo-operator)" in out
    assert "🚨 [P1]" in out and "✅ [Resolved]" in out
    [report] = (home / "postmortems").glob("INC-*.md")
    assert "## Root Cause" in report.read_text() and "V14" in report.read_text()
    outbox = json.loads(agentops(home, "outbox", "--json").stdout)
    assert {m["channel"] for m in outbox} >= {"slack", "github"}


def test_run_stops_at_approval_and_approve_resumes_from_another_process(home) -> None:
    assert agentops(home, "seed", "--scenario", "bad_deployment", "--now", NOW).returncode == 0
    run = agentops(home, "run", "--now", NOW, "--json")
    assert run.returncode == 0, run.stderr
    started = json.loads(run.stdout)
    thread = started["thread_id"]
    assert started["pending"]["action"]["type"] == "rollback_model"
    listed = json.loads(agentops(home, "threads", "--json").stdout)
    assert [t["thread_id"] for t in listed] == [thread]
    refused = agentops(home, "approve", thread, "--approver", "mallory")
    assert refused.returncode == 1
    assert (
        "nothing was executed" in refused.stdout and "not an authorized approver" in refused.stdout
    )
    approved = agentops(home, "approve", thread, "--approver", "alice", "--comment", "ok")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert re.search(
        r"rollback_model → classifier_v2: succeeded \(approved by alice\)", approved.stdout
    )
    assert "no approvals pending" in agentops(home, "threads").stdout
    again = agentops(home, "approve", thread, "--approver", "alice")
    assert again.returncode == 1 and "not waiting for an approval" in again.stdout


def test_run_with_nothing_wrong_says_so(home) -> None:
    agentops(home, "seed", "--scenario", "none", "--now", NOW)
    run = agentops(home, "run", "--now", NOW)
    assert run.returncode == 0 and "nothing crossed a threshold" in run.stdout
