"""`agentops run` with an incident it could not handle says so and exits 1 — a cron job or a
wrapper script must not read a failed incident as a clean pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentops.cli.app import app
from agentops.graph.scheduler import Scheduler
from agentops.scenarios import seed_store
from agentops.settings import Settings
from tests.conftest import NOW, make_stores


def test_a_pass_with_a_failed_incident_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    for name, value in {
        "AGENTOPS_HOME": str(home),
        "AGENTOPS_APPROVERS": "alice",
        "AGENTOPS_EMBEDDINGS": "lexical",
    }.items():
        monkeypatch.setenv(name, value)
    stores = make_stores(Settings.load(home=home))
    seed_store(stores, NOW, "bad_deployment", hours=48)
    stores.dispose()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the checkpoint store went away")

    monkeypatch.setattr(Scheduler, "_handle", broken)
    result = CliRunner().invoke(app, ["run", "--now", "2026-11-20T12:00:00Z"])
    assert result.exit_code == 1, result.output
    assert "the checkpoint store went away" in result.stderr
    assert "already handled" not in result.stdout
