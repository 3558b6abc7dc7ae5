"""Replay and export on an incident the real graph opened, remediated and closed on recovery
(offline model, lexical embeddings so no model file is loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.cases import load_case, read_case
from agentops.evals import export_case, replay_incident
from agentops.evals.runner import case_settings, play_case
from agentops.graph.local import open_stores
from agentops.settings import Settings
from agentops.store import open_monitoring

# a rollback, then two healthy windows: resolved
CASE = Path(__file__).resolve().parents[3] / "evals" / "cases" / "061_spam_rollback_recovers"


@pytest.fixture
def resolved(tmp_path: Path) -> tuple[Settings, str]:
    base = case_settings(tmp_path / "home", "offline", None)
    settings = Settings.load(**{**base.model_dump(), "embeddings": "lexical"})
    case = read_case(CASE)
    load_case(open_monitoring(settings.resolved_database_url, create=True), case)
    state = play_case(settings, case)
    assert state["_status"] == "resolved"
    return settings, state["incident"]["incident_id"]


def test_replaying_an_unchanged_incident_finds_no_difference(
    resolved: tuple[Settings, str],
) -> None:
    settings, incident_id = resolved
    diffs = replay_incident(settings, open_stores(settings), incident_id)
    assert [d.field for d in diffs if not d.same] == []
    assert {d.field: d.replayed for d in diffs}["category"] == "bad_deployment"


def test_exported_case_reproduces_the_incident(
    resolved: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, incident_id = resolved
    path = export_case(open_stores(settings), incident_id, tmp_path / "cases", number=1)
    case = read_case(path)
    assert case.expect.severity == "P1"
    assert case.expect.root_cause is not None
    assert case.expect.root_cause.category == "bad_deployment"
    assert [a.value for a in case.expect.executed or []] == ["rollback_model"]
