"""Replay and export on an incident the real graph opened and closed (offline model,
lexical embeddings so no model file is loaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentops.cases import load_case, read_case
from agentops.evals import export_case, replay_incident
from agentops.evals.runner import case_settings
from agentops.graph.runner import run_incident
from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema

CASE = Path(__file__).resolve().parents[3] / "evals" / "cases" / "004_bad_deployment_classifier"


def _approve(payload: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "approve", "approver": "eval-bot", "comment": "ok"}


@pytest.fixture
def resolved(tmp_path: Path) -> tuple[Settings, str]:
    base = case_settings(tmp_path / "home", "offline", None)
    settings = Settings.load(**{**base.model_dump(), "embeddings": "lexical"})
    engine = create_store_engine(settings.resolved_database_url)
    init_schema(engine)
    case = read_case(CASE)
    load_case(engine, case)
    state = run_incident(settings, now=case.now, model_name=case.model, decide=_approve)
    assert state["incident"] is not None
    return settings, state["incident"]["incident_id"]


def test_replaying_an_unchanged_incident_finds_no_difference(
    resolved: tuple[Settings, str],
) -> None:
    settings, incident_id = resolved
    engine = create_store_engine(settings.resolved_database_url)
    diffs = replay_incident(settings, engine, incident_id)
    assert [d.field for d in diffs if not d.same] == []
    assert {d.field: d.replayed for d in diffs}["category"] == "bad_deployment"


def test_exported_case_reproduces_the_incident(
    resolved: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, incident_id = resolved
    engine = create_store_engine(settings.resolved_database_url)
    case = read_case(export_case(engine, incident_id, tmp_path / "cases", number=1))
    assert case.expect.severity == "P1"
    assert case.expect.root_cause is not None
    assert case.expect.root_cause.category == "bad_deployment"
    assert [a.value for a in case.expect.executed or []] == ["rollback_model"]
