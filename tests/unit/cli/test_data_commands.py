"""`agentops seed`, `db init`, `db load-case` and `incidents` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CASE = Path(__file__).parents[2] / "data" / "contract_case.yaml"


def agentops(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"AGENTOPS_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "agentops", *args], capture_output=True, text=True, env=env
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_seed_then_list_incidents(home) -> None:
    seeded = agentops(home, "seed", "--now", "2026-11-20T12:00:00Z", "--json")
    assert seeded.returncode == 0, seeded.stderr
    payload = json.loads(seeded.stdout)
    assert payload["scenario"] == "upstream_data_change"
    assert payload["rows"]["feature_drift"] == 14 * 24 * 29
    listed = agentops(home, "incidents", "list", "--json")
    rows = json.loads(listed.stdout)
    assert len(rows) == 4 and all(r["status"] == "resolved" for r in rows)
    shown = agentops(home, "incidents", "show", rows[0]["incident_id"])
    assert rows[0]["root_cause"][:30] in shown.stdout


def test_db_init_twice_and_load_case(home) -> None:
    assert "created" in agentops(home, "db", "init").stdout
    assert "already complete" in agentops(home, "db", "init").stdout
    loaded = agentops(home, "db", "load-case", str(CASE))
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded case 001_vendor_format_change: 7 rows" in loaded.stdout


def test_errors_are_one_line_on_stderr(home) -> None:
    fresh = agentops(home, "incidents", "list")
    assert fresh.returncode == 1 and fresh.stdout == ""
    assert "no monitoring database at" in fresh.stderr and "agentops db init" in fresh.stderr
    agentops(home, "db", "init")
    unknown = agentops(home, "incidents", "show", "INC-1999-0101-1")
    assert unknown.returncode == 1
    assert (
        unknown.stderr
        == "error: no incident 'INC-1999-0101-1'; `agentops incidents list` shows them\n"
    )
    bad_scenario = agentops(home, "seed", "--scenario", "meteor")
    assert bad_scenario.returncode == 2, "a value out of range is a usage error"
    assert "unknown scenario 'meteor'" in bad_scenario.stderr
    bad_case = agentops(home, "db", "load-case", str(home / "nowhere"))
    assert bad_case.returncode == 1 and "no such case file" in bad_case.stderr
