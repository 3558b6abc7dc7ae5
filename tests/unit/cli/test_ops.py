"""`agentops doctor` and `agentops gc`, run as a user runs them (child processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentops.clock import utcnow
from agentops.graph.runner import config_for
from agentops.settings import Settings
from agentops.store import Stores, workers
from agentops.store import answers as store_answers
from agentops.store.checkpoints import checkpointer_for
from agentops.store.migrations import upgrade
from agentops.store.state_tables import action_log, incidents, messages, postmortems
from agentops.store.state_tables import workers as workers_table
from tests.conftest import NOW, make_stores
from tests.fakes.github_server import running_github
from tests.fakes.slack_server import running_slack
from tests.unit.graph.conftest import approve, recover, run_pass

ROOT = Path(__file__).parents[3]
SECRET = "xoxb-do-not-print-me"


def agentops(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home.parent),
        "AGENTOPS_HOME": str(home),
        "AGENTOPS_EMBEDDINGS": "lexical",
        "COLUMNS": "250",
    }
    return subprocess.run(
        [sys.executable, "-m", "agentops", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=ROOT,
        timeout=300,
    )


def _checks(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---- doctor --------------------------------------------------------------------------------
def test_doctor_names_every_source_and_checks_each_connection(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_stores(Settings.load(home=home)).dispose()
    with running_slack() as slack, running_github("acme/fraud-ml") as github:
        env = {
            "AGENTOPS_APPROVERS": "alice",
            "AGENTOPS_SLACK_TOKEN": SECRET,
            "AGENTOPS_SLACK_BASE_URL": slack.base_url,
            "AGENTOPS_GITHUB_TOKEN": "ghp-secret",
            "AGENTOPS_GITHUB_REPO": "acme/fraud-ml",
            "AGENTOPS_GITHUB_BASE_URL": github.base_url,
            "AGENTOPS_SMTP_HOST": "127.0.0.1",
            "AGENTOPS_SMTP_PORT": str(_closed_port()),
        }
        plain = agentops(home, "doctor", **env)
        found = _checks(agentops(home, "doctor", "--json", **env))
    assert plain.returncode == 1, "a failed check fails the command"
    assert SECRET not in plain.stdout + plain.stderr and "ghp-secret" not in plain.stdout
    assert "Traceback" not in plain.stderr
    assert found["home"]["source"] == "AGENTOPS_HOME"
    assert (
        found["monitoring db"]["status"] == "ok" and "default" in found["monitoring db"]["source"]
    )
    assert found["state store"]["detail"] == "schema version 2"
    assert (found["approvers"]["value"], found["approvers"]["source"]) == (
        "alice",
        "AGENTOPS_APPROVERS",
    )
    # each outside service was called: the stand-in Slack knows no auth.test, GitHub is there,
    # nothing listens on the SMTP port
    assert found["Slack token"]["status"] == "fail"
    assert "auth.test" in found["Slack token"]["detail"]
    assert found["Slack token"]["source"] == "AGENTOPS_SLACK_TOKEN"
    assert found["GitHub token"]["status"] == "ok"
    assert found["SMTP server"]["status"] == "fail"
    assert [call.method for call in slack.calls] == ["auth.test", "auth.test"]
    assert any(path == "/repos/acme/fraud-ml" for _verb, path, _auth in github.requests)


def test_doctor_offline_on_a_healthy_home_passes_and_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_stores(Settings.load(home=home)).dispose()
    done = agentops(home, "doctor", "--offline", AGENTOPS_APPROVERS="alice")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("no problems found")

    elsewhere = tmp_path / "nowhere"
    missing = agentops(elsewhere, "doctor", "--offline", "--json")
    assert missing.returncode == 1
    found = _checks(missing)
    assert "agentops db init" in found["monitoring db"]["detail"]
    assert found["state store"]["status"] == "warn", "an empty store is created on first use"
    assert not (elsewhere / "agentops.db").exists(), "doctor creates no monitoring database"


def test_doctor_says_an_old_store_needs_an_upgrade(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state_url = f"sqlite:///{tmp_path / 'old.db'}"
    from agentops.store import create_store_engine

    engine = create_store_engine(state_url, role="state")
    upgrade(engine, target=1)
    engine.dispose()
    found = _checks(agentops(home, "doctor", "--offline", "--json", AGENTOPS_STATE_URL=state_url))
    assert found["state store"]["status"] == "fail"
    assert "run `agentops db upgrade`" in found["state store"]["detail"]


# ---- gc ------------------------------------------------------------------------------------
def _resolved_home(tmp_path: Path) -> tuple[Settings, Stores, str]:
    """A home whose vendor-change incident went all the way to its post-mortem."""
    settings = Settings.load(home=tmp_path / "home", approvers="alice", embeddings="lexical")
    stores = make_stores(settings)
    from agentops.scenarios import seed_store

    seed_store(stores, NOW, "upstream_data_change", hours=48)
    run_pass(settings, decide=approve)
    recover(stores, "upstream_data_change", 2)
    run_pass(settings, NOW + timedelta(hours=2, minutes=5))
    with stores.state.begin() as conn:
        [row] = conn.execute(sa.select(incidents)).mappings().all()
        assert row["status"] == "resolved"
        store_answers.record_answer(
            conn,
            incident_id=row["incident_id"],
            thread_id=row["thread_id"],
            kind="approval",
            decision="approve",
            person="alice",
            via="cli",
            received_at=NOW,
        )
    return settings, stores, str(row["incident_id"])


def _age(stores: Stores, incident_id: str, days: int) -> None:
    """Make the incident look resolved `days` ago by the wall clock."""
    resolved_at = (utcnow() - timedelta(days=days)).replace(tzinfo=None)
    with stores.state.begin() as conn:
        conn.execute(
            incidents.update()
            .where(incidents.c.incident_id == incident_id)
            .values(resolved_at=resolved_at)
        )


def _left(settings: Settings, stores: Stores, incident_id: str) -> dict[str, Any]:
    with stores.state.connect() as conn:

        def count(table: sa.Table, *where: Any) -> int:
            query = sa.select(sa.func.count()).select_from(table).where(*where)
            return int(conn.execute(query).scalar() or 0)

        thread = conn.execute(
            sa.select(incidents.c.thread_id).where(incidents.c.incident_id == incident_id)
        ).scalar()
        left = {
            "incidents": count(incidents),
            "ledger": count(action_log),
            "messages": count(messages, messages.c.incident_id == incident_id),
            "stored_postmortems": count(postmortems),
            "workers": count(workers_table),
        }
    with checkpointer_for(settings) as saver:
        left["checkpoint"] = saver.get_tuple(config_for(str(thread))) is not None
    left["files"] = sorted(p.name for p in settings.postmortem_dir.glob(f"{incident_id}.*"))
    return left


def test_gc_removes_what_an_old_resolved_incident_left_and_keeps_the_record(
    tmp_path: Path,
) -> None:
    settings, stores, incident_id = _resolved_home(tmp_path)
    first = _left(settings, stores, incident_id)
    assert first["checkpoint"] and first["messages"] > 0
    assert first["files"] == [f"{incident_id}.md", f"{incident_id}.png"]
    home = settings.home

    _age(stores, incident_id, days=20)
    young = agentops(home, "gc", "--older-than", "30d", "--json")
    assert young.returncode == 0, young.stdout + young.stderr
    assert json.loads(young.stdout)["incidents"] == 0, "resolved 20 days ago: kept at 30d"
    assert _left(settings, stores, incident_id) == first

    _age(stores, incident_id, days=40)
    workers.beat(stores.state, "watch:gone:1:abc", "watch", status="ok")
    with stores.state.begin() as conn:
        conn.execute(
            workers_table.update().values(
                last_beat=(utcnow() - timedelta(days=90)).replace(tzinfo=None)
            )
        )
    workers.beat(stores.state, "watch:alive:2:def", "watch", status="ok")
    before = _left(settings, stores, incident_id)
    dry = json.loads(agentops(home, "gc", "--older-than", "30d", "--dry-run", "--json").stdout)
    assert dry["incidents"] == 1 and dry["threads"] == 1 and dry["answers"] == 1
    assert dry["messages"] == before["messages"] and dry["postmortem_files"] == 2
    assert dry["workers"] == 1, "the worker silent for 90 days"
    assert _left(settings, stores, incident_id) == before, "a dry run removes nothing"

    done = agentops(home, "gc", "--older-than", "30d")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removed the checkpoints of 1 thread(s)" in done.stdout
    after = _left(settings, stores, incident_id)
    assert after["checkpoint"] is False and after["messages"] == 0 and after["files"] == []
    assert (after["incidents"], after["ledger"], after["stored_postmortems"]) == (
        before["incidents"],
        before["ledger"],
        before["stored_postmortems"],
    ), "the incident, its ledger and its stored post-mortem stay"
    assert after["workers"] == 1, "the live worker's heartbeat stays"
    again = json.loads(agentops(home, "gc", "--older-than", "30d", "--json").stdout)
    assert again["threads"] == 0 and again["messages"] == 0
    stores.dispose()


@pytest.mark.parametrize("age", ["12h", "30", "thirty days", "0.5d"])
def test_gc_refuses_an_unclear_or_too_short_age(tmp_path: Path, age: str) -> None:
    done = agentops(tmp_path / "home", "gc", "--older-than", age)
    assert done.returncode == 2, "a bad option value is a usage error"
    assert "--older-than" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
