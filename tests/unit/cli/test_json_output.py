"""`--json` keeps stdout pure JSON: progress, warnings and notices go to stderr, so
`agentops CMD --json | jq` always parses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentops.store.tables import model_metrics
from tests.conftest import seeded_stores
from tests.unit.cli.test_errors import NOW, agentops

CASE = Path(__file__).parents[2] / "data" / "contract_case.yaml"


def _json(home: Path, *args: str, **env: str) -> tuple[Any, str]:
    """The parsed stdout of `agentops ARGS --json`, and what went to stderr."""
    done = agentops(home, *args, "--json", AGENTOPS_APPROVERS="alice", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout), done.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A seeded home whose bad deployment waits for alice's approval."""
    home = tmp_path / "home"
    seeded_stores(home, "bad_deployment", hours=48).dispose()
    report, _ = _json(home, "run", "--now", NOW)
    assert [t["waiting_for"] for t in report["threads"]] == ["approval"]
    # the incident's status as the store has it after the pass, not as the graph last wrote it
    assert [t["incident"]["status"] for t in report["threads"]] == ["awaiting_approval"]
    return home


def test_every_json_command_prints_only_json(home: Path, tmp_path: Path) -> None:
    [waiting] = _json(home, "threads")[0]
    incident = waiting["incident_id"]
    samples = tmp_path / "samples.csv"
    samples.write_text("amount,country\n1.0,fr\n2.5,de\n3.0,fr\n")
    commands: list[list[str]] = [
        ["db", "init"],
        ["db", "upgrade"],
        ["db", "normalize-times"],
        ["incidents", "list"],
        ["incidents", "show", incident],
        ["outbox"],
        ["deliver", "--now", NOW],
        ["sweep", "--now", NOW],
        ["detect", "--now", NOW],
        ["ack", incident, "--as", "alice", "--now", NOW],
        ["note", incident, "looking at it", "--as", "alice", "--now", NOW],
        [
            "silence",
            "classifier_v2",
            "--until",
            "2026-12-01T00:00:00Z",
            "--reason",
            "vendor",
            "--now",
            NOW,
        ],
        ["silences", "--now", NOW],
        ["approve", incident, "--approver", "alice"],
        ["doctor", "--offline"],
        ["gc", "--older-than", "30d", "--dry-run"],
        ["index", "search", "feature drift"],
        [
            *("drift", "compute", "--model", "classifier_v2", "--now", NOW),
            *("--reference", str(samples), "--current", str(samples)),
        ],
        ["seed", "--scenario", "none", "--now", NOW, "--force"],
    ]
    for args in commands:
        payload, _ = _json(home, *args)
        assert payload is not None, args
    loaded, _ = _json(tmp_path / "fresh", "db", "load-case", str(CASE))
    assert loaded["case"] == "001_vendor_format_change"


def test_json_stays_pure_when_there_is_something_to_warn_about(home: Path) -> None:
    """Rows no monitoring job could produce are a warning to a person and data to a script:
    the warning goes to stderr, the findings into the JSON."""
    settings_url = f"sqlite:///{home / 'agentops.db'}"
    engine = sa.create_engine(settings_url)
    with engine.begin() as conn:
        latest = conn.execute(sa.select(sa.func.max(model_metrics.c.window_end))).scalar()
        conn.execute(
            model_metrics.update().where(model_metrics.c.window_end == latest).values(f1=7.5)
        )
    engine.dispose()
    for command in (["detect", "--now", NOW], ["run", "--now", NOW]):
        payload, stderr = _json(home, *command)
        [finding] = payload["findings"]
        assert (finding["column"], finding["value"]) == ("f1", "7.5")
        assert "bad row" in stderr and "f1 = 7.5" in stderr
