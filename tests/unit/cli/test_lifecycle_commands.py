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
    assert "not a language model" in out and "outbox" in out
    for phase in ("detect", "page", "triage", "investigate", "remediate", "verify", "resolved"):
        assert phase in out
    # the upstream change: the approved retrain waits for the pipeline fix, then starts and
    # passes the promotion gate before the recovery windows arrive
    queued = out.index("retrain_model → classifier_v2: queued (approved by demo-operator)")
    fixed = out.index("re-ran with the fix")
    promoted = out.index("retrain-INC-")
    assert queued < fixed < out.index(": promoted", promoted)
    # monitoring first, resolved only after the recovery windows arrived
    assert out.index("monitoring: not recovered") < out.index("resolved: recovered")
    assert re.search(r"time to resolve\s+\d+ minutes", out)
    demo_home = home / "demo"
    [report] = (demo_home / "postmortems").glob("INC-*.md")
    assert "## Root Cause" in report.read_text() and "V14" in report.read_text()
    outbox = json.loads(agentops(demo_home, "outbox", "--json").stdout)
    slack = [m for m in outbox if m["channel"] == "slack" and m["target"] == "#ml-alerts"]
    assert slack[0]["text"].startswith("🚨 [P1]"), "the page is the first message"
    assert slack[0]["text"].endswith("Investigating automatically...")
    assert any(m["text"].startswith("✅ [Resolved]") for m in slack)
    texts = [m["text"] for m in slack]
    started = next(i for i, t in enumerate(texts) if t.startswith("🔁 Retraining started"))
    decided = next(i for i, t in enumerate(texts) if t.startswith("✅ Retrained model promoted"))
    assert started < decided, "the job's start is told before its verdict"
    assert any("blocks" in m for m in slack), "the approval request carries buttons"


def _incident(home: Path) -> str:
    listed = json.loads(agentops(home, "threads", "--json").stdout)
    assert len(listed) == 1, listed
    return str(listed[0]["incident_id"])


def test_run_stops_at_approval_and_approve_resumes_from_another_process(home) -> None:
    assert agentops(home, "seed", "--scenario", "bad_deployment", "--now", NOW).returncode == 0
    run = agentops(home, "run", "--now", NOW, "--json")
    assert run.returncode == 0, run.stderr
    [started] = json.loads(run.stdout)["threads"]
    assert started["waiting_for"] == "approval"
    assert started["pending"]["action"]["type"] == "rollback_model"
    [listed] = json.loads(agentops(home, "threads", "--json").stdout)
    assert (listed["thread_id"], listed["waiting_for"]) == (started["thread_id"], "approval")
    incident = listed["incident_id"]
    refused = agentops(home, "approve", incident, "--approver", "mallory")
    assert refused.returncode == 1
    assert "nothing was decided" in refused.stderr and "may not approve" in refused.stderr
    approved = agentops(home, "approve", incident, "--approver", "alice", "--comment", "ok")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert re.search(
        r"rollback_model → classifier_v2: succeeded \(approved by alice\)", approved.stdout
    )
    [waiting] = json.loads(agentops(home, "threads", "--json").stdout)
    assert waiting["waiting_for"] == "recovery" and waiting["status"] == "monitoring"
    again = agentops(home, "approve", incident, "--approver", "alice")
    assert again.returncode == 1 and "not waiting for an approval" in again.stderr
    shown = json.loads(agentops(home, "incidents", "show", incident, "--json").stdout)
    rollback = [a for a in shown["actions"] if a["action_type"] == "rollback_model"]
    assert [(a["status"], a["approved_by"]) for a in rollback] == [("succeeded", "alice")]


def test_a_refused_answer_is_never_replayed_under_another_name(home) -> None:
    """The security review's sequence: alice is refused while no approvers are configured;
    then approvers are configured and bob rejects. The rollback must not run, and nothing
    may be recorded as alice's."""
    assert agentops(home, "seed", "--scenario", "bad_deployment", "--now", NOW).returncode == 0
    assert agentops(home, "run", "--now", NOW, approvers="").returncode == 0
    incident = _incident(home)
    refused = agentops(home, "approve", incident, "--approver", "alice", approvers="")
    assert refused.returncode == 1
    assert "no approvers are configured" in refused.stderr and "approvers" in refused.stderr
    mallory = agentops(home, "approve", incident, "--approver", "mallory", approvers="alice,bob")
    assert mallory.returncode == 1
    rejected = agentops(
        home, "approve", incident, "--approver", "bob", "--reject", approvers="alice,bob"
    )
    assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    shown = json.loads(agentops(home, "incidents", "show", incident, "--json").stdout)
    rollback = [a for a in shown["actions"] if a["action_type"] == "rollback_model"]
    assert [(a["status"], a["approved_by"]) for a in rollback] == [("rejected", "bob")]
    assert shown["status"] == "escalated"
    assert not any("alice" in str(a.get("approved_by")) for a in shown["actions"])


def test_run_with_nothing_wrong_says_so(home) -> None:
    agentops(home, "seed", "--scenario", "none", "--now", NOW)
    run = agentops(home, "run", "--now", NOW)
    assert run.returncode == 0 and "no threshold crossed" in run.stdout


def test_run_without_a_monitoring_database_names_it_and_creates_nothing(home) -> None:
    run = agentops(home, "run", "--now", NOW)
    assert run.returncode == 1
    assert "no monitoring database at" in run.stderr and "agentops db init" in run.stderr
    assert not (home / "agentops.db").exists()
