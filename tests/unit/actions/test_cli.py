"""`agentops outbox` and `agentops sweep` as a user runs them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentops.actions import execute
from agentops.cli import app
from agentops.domain import Action, ActionType, TimelineEntry
from agentops.settings import Settings
from tests.conftest import make_stores

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
    stores = make_stores(cfg)
    incident = drift_incident()
    store_incident(stores, incident)
    execute(
        stores, cfg, incident, Action(type=ActionType.notify_slack, target="#ml-alerts"), now=NOW
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
    stores = make_stores(cfg)
    opened = NOW - timedelta(minutes=90)
    handled = [
        TimelineEntry(phase="detected", at=opened),
        TimelineEntry(phase="triage_started", at=opened + timedelta(minutes=1)),
        TimelineEntry(phase="root_cause_identified", at=opened + timedelta(minutes=2)),
    ]
    store_incident(stores, drift_incident(opened_at=opened), timeline=handled)
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
    assert outbox[1]["text"].startswith("[P1] INC-2026-1120-1 escalated to engineering manager")
