"""Silences and retirements stop pages on purpose, expire on their own and are listed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from agentops.detection import detect_incidents
from agentops.domain import AlertType
from agentops.store import silences
from tests.conftest import NOW
from tests.unit.detection.builders import load, metrics

HOUR = timedelta(hours=1)


def _silence(stores, model: str, *, until=None, alert: str | None = None, kind: str = "silence"):
    with stores.state.begin() as conn:
        return silences.add(
            conn,
            model_name=model,
            kind=kind,
            alert_type=alert,
            until=until,
            reason="maintenance",
            created_by="alice",
            now=NOW - HOUR,
        )


def test_a_silenced_model_opens_nothing_until_the_silence_ends(stores) -> None:
    load(stores.monitoring, model_metrics=[metrics("quiet", f1=0.4), metrics("loud", f1=0.4)])
    _silence(stores, "quiet", until=NOW + HOUR)
    detection = detect_incidents(stores, NOW)
    assert [c.incident.model_name for c in detection.changes] == ["loud"]
    assert [a.model_name for a in detection.silenced] == ["quiet"]
    later = detect_incidents(stores, NOW + HOUR + timedelta(minutes=1))
    assert [c.incident.model_name for c in later.changes if c.new] == ["quiet"], "it expired"


def test_a_silence_can_cover_one_alert_type_only(stores) -> None:
    load(stores.monitoring, model_metrics=[metrics(f1=0.4, latency_p99_ms=2500.0)])
    _silence(stores, "m1", until=NOW + HOUR, alert="latency")
    [change] = detect_incidents(stores, NOW).changes
    assert change.incident.alert_types == [AlertType.model_performance]


def test_a_retired_model_never_pages_not_even_for_missing_data(stores) -> None:
    load(stores.monitoring, model_metrics=[metrics("old", hours_ago=100)])
    _silence(stores, "old", kind="retired")
    detection = detect_incidents(stores, NOW + 30 * 24 * HOUR)
    assert detection.changes == [] and [a.type for a in detection.silenced] == [AlertType.no_data]


def test_silence_commands_as_a_user_runs_them(tmp_path: Path) -> None:
    home = tmp_path / "home"

    def agentops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agentops", *args],
            capture_output=True,
            text=True,
            env={"AGENTOPS_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home)},
            timeout=120,
        )

    assert (
        agentops("seed", "--scenario", "bad_deployment", "--now", "2026-11-20T12:00:00Z").returncode
        == 0
    )
    missing = agentops(
        "silence", "classifier_v2", "--until", "2026-11-20T14:00:00Z", "--reason", " "
    )
    assert missing.returncode == 1 and "say why" in missing.stderr
    made = agentops(
        "silence",
        "classifier_v2",
        "--until",
        "2026-11-20T14:00:00Z",
        "--reason",
        "deploy window",
        "--now",
        "2026-11-20T11:00:00Z",
        "--json",
    )
    assert made.returncode == 0, made.stdout + made.stderr
    silence_id = json.loads(made.stdout)["silence_id"]
    detected = json.loads(agentops("detect", "--now", "2026-11-20T12:00:00Z", "--json").stdout)
    assert detected["alerts"] == [] and detected["silenced"]
    listed = json.loads(agentops("silences", "--now", "2026-11-20T12:00:00Z", "--json").stdout)
    assert [(s["silence_id"], s["in_force"], s["reason"]) for s in listed] == [
        (silence_id, True, "deploy window")
    ]
    assert agentops("unsilence", silence_id).returncode == 0
    again = json.loads(agentops("detect", "--now", "2026-11-20T12:00:00Z", "--json").stdout)
    assert again["alerts"] and again["silenced"] == []
    unknown = agentops(
        "silence", "no_such_model", "--until", "2026-11-21T00:00:00Z", "--reason", "x"
    )
    assert unknown.returncode == 1 and "unknown model 'no_such_model'" in unknown.stderr
