"""Rows a team's own job writes straight into the monitoring tables: impossible values are
findings about the tables, not pages; times in another ISO shape are refused by name, then
normalized, never silently skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.detection import detect_incidents, evaluate_rules
from agentops.domain import AlertType
from agentops.errors import DataError
from agentops.store.timecheck import normalize_times
from tests.conftest import NOW
from tests.unit.detection.builders import load, metrics

INSERT = sa.text(
    "INSERT INTO model_metrics (model_name, model_version, window_start, window_end, f1, "
    "precision, recall, error_rate, latency_p50_ms, latency_p99_ms, request_count, status) "
    "VALUES (:m, '1', :start, :end, :f1, 0.9, 0.8, :err, 40, :p99, 1000, 'up')"
)


def _raw(engine: sa.Engine, model: str, start: str, end: str, **values: object) -> None:
    row = {"m": model, "start": start, "end": end, "f1": 0.85, "err": 0.01, "p99": 300.0}
    row.update(values)
    with engine.begin() as conn:
        conn.execute(INSERT, row)


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("p99", float("inf"), "not a finite number"),
        ("f1", -3.0, "a rate outside 0..1"),
        ("err", 7.5, "a rate outside 0..1"),
        ("f1", "0.4 (approx)", "not a number"),
    ],
)
def test_an_impossible_value_is_a_finding_not_an_alert(stores, column, value, problem) -> None:
    engine = stores.monitoring
    load(engine, model_metrics=[metrics("healthy_but_late", f1=0.5)])
    _raw(engine, "broken_job", "2026-11-20 11:00:00", "2026-11-20 12:00:00", **{column: value})
    detection = detect_incidents(stores, NOW)
    assert [c.incident.model_name for c in detection.changes] == ["healthy_but_late"]
    [finding] = [f for f in detection.findings if f.model_name == "broken_job"]
    assert finding.table == "model_metrics" and finding.problem == problem
    assert {"p99": "latency_p99_ms", "err": "error_rate"}.get(column, column) == finding.column


def test_a_bad_newest_row_does_not_hide_the_breach_before_it(stores) -> None:
    """The job wrote f1 = -3 for 11:00-12:00; the 10:00-11:00 window it wrote before still
    shows F1 at 0.6 — a real P1 — and pages, beside the finding about the bad row."""
    engine = stores.monitoring
    _raw(engine, "fraud_v4", "2026-11-20 10:00:00", "2026-11-20 11:00:00", f1=0.6)
    _raw(engine, "fraud_v4", "2026-11-20 11:00:00", "2026-11-20 12:00:00", f1=-3.0)
    detection = detect_incidents(stores, NOW)
    [change] = detection.changes
    assert change.incident.model_name == "fraud_v4" and change.incident.severity.value == "P1"
    [finding] = detection.findings
    assert finding.column == "f1" and finding.problem == "a rate outside 0..1"


@pytest.mark.parametrize(
    "end",
    [
        "2026-11-20T12:00:00",
        "2026-11-20T14:00:00+02:00",
        "2026-11-20T12:00:00Z",
        "2026-11-20T12:00:00.250",
    ],
)
def test_other_iso_shapes_are_refused_by_name_then_normalized(stores, end: str) -> None:
    engine = stores.monitoring
    start = end.replace("T12", "T11").replace("T14", "T13")
    _raw(engine, "m_iso", start, end, f1=0.1)
    refused = r"MODEL_METRICS\.window_\w+ holds .*normalize-times"
    with pytest.raises(DataError, match=refused), engine.connect() as conn:
        evaluate_rules(conn, NOW)
    with engine.begin() as conn:
        normalize_times(conn)
    with engine.connect() as conn:
        alerts = evaluate_rules(conn, NOW)
    assert [(a.model_name, a.type) for a in alerts] == [("m_iso", AlertType.model_performance)]
    assert alerts[0].window_end == NOW, "the offset was converted to UTC"


def test_the_commands_as_a_user_runs_them(tmp_path: Path) -> None:
    home = tmp_path / "home"

    def agentops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agentops", *args],
            capture_output=True,
            text=True,
            env={"AGENTOPS_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home)},
            timeout=120,
        )

    assert agentops("db", "init").returncode == 0
    engine = sa.create_engine(f"sqlite:///{home / 'agentops.db'}")
    _raw(engine, "m_iso", "2026-11-20T11:00:00+00:00", "2026-11-20T12:00:00+00:00", f1=0.1)
    refused = agentops("detect", "--now", "2026-11-20T12:00:00Z")
    assert refused.returncode == 1 and "normalize-times" in refused.stderr
    fixed = agentops("db", "normalize-times")
    assert fixed.returncode == 0 and "model_metrics.window_end" in fixed.stdout
    found = json.loads(agentops("detect", "--now", "2026-11-20T12:00:00Z", "--json").stdout)
    assert [a["model_name"] for a in found["alerts"]] == ["m_iso"]
