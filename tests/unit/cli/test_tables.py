"""What the commands print fits an 80-column terminal: ids (incidents, threads, silences,
models) are never cut; long free text wraps between words."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from agentops.store.load import load_tables
from tests.conftest import NOW, seeded_stores
from tests.unit.cli.test_errors import NOW as AT
from tests.unit.cli.test_errors import agentops

WIDTH = 80
LONG_MODEL = "fraud_detector_eu_west_2"
CAUSE = (
    "The card network's settlement feed switched its merchant category encoding overnight, "
    "so V12 and Amount shifted for every European transaction while the model kept serving"
)


def _printed(home: Path, *args: str) -> str:
    done = agentops(home, *args, AGENTOPS_APPROVERS="alice")  # COLUMNS=80
    assert done.returncode == 0, done.stdout + done.stderr
    for line in done.stdout.splitlines():
        assert len(line.rstrip()) <= WIDTH, f"wider than {WIDTH} columns: {line!r}"
    return done.stdout


def test_lists_fit_80_columns_with_every_id_whole(tmp_path: Path) -> None:
    home = tmp_path / "home"
    stores = seeded_stores(home, "bad_deployment", hours=48)
    history = [
        {
            "incident_id": f"INC-2026-1119-{n}",
            "model_name": LONG_MODEL,
            "severity": "P2",
            "alert_types": "feature_drift,model_performance",
            "root_cause_category": "upstream_data_change",
            "root_cause": CAUSE,
            "resolution": "re-encoded upstream",
            "opened_at": NOW - timedelta(hours=n),
            "resolved_at": NOW - timedelta(hours=n - 1),
            "status": "resolved",
        }
        for n in (11, 12)
    ]
    load_tables(stores.monitoring, {"incidents": history})
    stores.dispose()
    run = agentops(home, "run", "--now", AT, "--json", AGENTOPS_APPROVERS="alice")
    [thread] = json.loads(run.stdout)["threads"]
    found = _printed(home, "detect", "--now", AT)  # before the silence below hides it
    assert "model_performance" in found and "classifier_v2" in found
    silenced = agentops(
        home,
        "silence",
        "classifier_v2",
        "--until",
        "2026-12-01T00:00:00Z",
        "--reason",
        CAUSE,
        "--now",
        AT,
    )
    assert silenced.returncode == 0, silenced.stderr

    listed = _printed(home, "incidents", "list")
    for incident_id in ("INC-2026-1119-11", "INC-2026-1119-12", thread["incident_id"]):
        assert incident_id in listed
    assert LONG_MODEL in listed and "awaiting_approval" in listed
    words = CAUSE.split()
    assert set(words[:10]) <= set(listed.split()), "free text wraps between words"

    waiting = _printed(home, "threads")
    assert thread["thread_id"] in waiting and thread["incident_id"] in waiting

    silences = _printed(home, "silences", "--now", AT)
    [silence_id] = re.findall(r"SIL-[0-9a-f]{8}", silenced.stdout)
    assert silence_id in silences and "by local operator" in silences
    assert set(words) <= set(silences.split()), "a reason wraps between words, uncut"

    shown = _printed(home, "incidents", "show", thread["incident_id"])
    assert thread["incident_id"] in shown
    outbox = _printed(home, "outbox", "--incident", thread["incident_id"])
    assert thread["incident_id"] in outbox
