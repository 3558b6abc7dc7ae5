"""`agentops outbox` and `agentops sweep` as a user runs them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentops.actions import execute
from agentops.cli import app
from agentops.domain import Action, ActionType
from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema

from .builders import NOW, drift_incident, store_incident


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTOPS_HOME", str(tmp_path))
    for name in (
        "AGENTOPS_SLACK_TOKEN",
        "AGENTOPS_GITHUB_TOKEN",
        "AGENTOPS_SMTP_HOST",
        "AGENTOPS_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config.yaml").write_text(
        "contacts:\n  engineering_manager: {slack: U0MGR, email: manager@example.com}\n",
        encoding="utf-8",
    )
    return tmp_path


def test_outbox_json_lists_what_would_have_been_sent(home: Path) -> None:
    cfg = Settings.load()
    engine = create_store_engine(cfg.resolved_database_url)
    init_schema(engine)
    incident = drift_incident()
    store_incident(engine, incident)
    execute(
        engine, cfg, incident, Action(type=ActionType.notify_slack, target="#ml-alerts"), now=NOW
    )
    result = CliRunner().invoke(app, ["outbox", "--json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry == {
        "channel": "slack",
        "target": "#ml-alerts",
        "text": entry["text"],
        "incident_id": "INC-2026-1120-1",
        "sent_at": "2026-11-20T12:00:00Z",
    }
    assert entry["text"].startswith("🚨 [P1] Model Drift Critical — classifier_v2")


def test_sweep_prints_each_escalation_once(home: Path) -> None:
    cfg = Settings.load()
    engine = create_store_engine(cfg.resolved_database_url)
    init_schema(engine)
    store_incident(engine, drift_incident(opened_at=NOW - timedelta(minutes=90)))
    runner = CliRunner()
    first = runner.invoke(app, ["sweep", "--now", "2026-11-20T12:00:00Z"])
    assert first.exit_code == 0, first.output
    assert "escalated INC-2026-1120-1 to engineering_manager" in first.stdout
    second = runner.invoke(app, ["sweep", "--now", "2026-11-20T12:30:00Z"])
    assert "no SLA breach needs escalating" in second.stdout
    outbox = json.loads(runner.invoke(app, ["outbox", "--json"]).stdout)
    assert [(e["channel"], e["target"]) for e in outbox] == [
        ("slack", "U0MGR"),
        ("email", "manager@example.com"),
    ]
    assert outbox[1]["text"].startswith("[P1] INC-2026-1120-1 escalated to Engineering Manager")
