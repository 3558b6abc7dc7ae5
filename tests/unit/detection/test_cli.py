"""`agentops detect` and `agentops drift compute` as a user runs them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentops.cli import app
from agentops.errors import DataError
from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema
from tests.unit.detection.builders import drift, load, metrics

NOW_ISO = "2026-11-20T12:00:00Z"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("AGENTOPS_HOME", str(home))
    for name in ("AGENTOPS_DATABASE_URL", "AGENTOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    engine = create_store_engine(Settings.load(home=home).resolved_database_url)
    init_schema(engine)
    load(
        engine,
        model_metrics=[metrics("m1", f1=0.61)],
        feature_drift=[drift("V2", 0.22, "m1")],
    )
    engine.dispose()
    return home


def _run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_detect_json_has_exactly_the_documented_keys(home) -> None:
    payload = json.loads(_run("detect", "--now", NOW_ISO, "--json"))
    # CONTRACT.md's `alerts`, plus what a pass kept from paging and why
    assert payload["silenced"] == [] and payload["findings"] == []
    assert {k: v for k, v in payload.items() if k == "alerts"} == {
        "alerts": [
            {
                "type": "model_performance",
                "severity": "P1",
                "model_name": "m1",
                "component": "model",
                "value": 0.61,
                "threshold": 0.7,
                "window_start": "2026-11-20T11:00:00Z",
                "window_end": NOW_ISO,
            },
            {
                "type": "feature_drift",
                "severity": "P3",
                "model_name": "m1",
                "component": "V2",
                "value": 0.22,
                "threshold": 0.2,
                "window_start": "2026-11-20T11:00:00Z",
                "window_end": NOW_ISO,
            },
        ]
    }


def test_detect_table_and_a_policy_file_override(home, tmp_path, monkeypatch) -> None:
    assert "2 alert(s) at 2026-11-20T12:00:00Z" in _run("detect", "--now", NOW_ISO)
    policy = tmp_path / "policy.yaml"
    policy.write_text("thresholds:\n  models:\n    m1: {f1_p1: 0.6, psi_p3: 0.25}\n")
    monkeypatch.setenv("AGENTOPS_CONFIG", str(policy))
    assert "no thresholds crossed" in _run("detect", "--now", NOW_ISO)


def test_detect_opens_no_incident(home) -> None:
    _run("detect", "--now", NOW_ISO)
    assert json.loads(_run("incidents", "list", "--json")) == []


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_drift_compute_from_csv_writes_rows_detect_then_reads(home, tmp_path) -> None:
    ref = _csv(tmp_path / "ref.csv", ["V7", "channel"], [[i, "web"] for i in range(100)])
    cur = _csv(
        tmp_path / "cur.csv",
        ["V7", "channel"],
        [[i + 60, "app" if i % 2 else "web"] for i in range(50)],
    )
    out = json.loads(
        _run(
            "drift",
            "compute",
            "--model",
            "m1",
            "--reference",
            str(ref),
            "--current",
            str(cur),
            "--window-end",
            "2026-11-20T13:00:00Z",
            "--json",
        )
    )
    assert out["written"] == 2 and out["window_start"] == NOW_ISO
    kinds = {f["feature"]: f["categorical"] for f in out["features"]}
    assert kinds == {"V7": False, "channel": True}
    alerts = json.loads(_run("detect", "--now", "2026-11-20T13:00:00Z", "--json"))["alerts"]
    assert {a["component"] for a in alerts if a["type"] == "feature_drift"} == {"V7", "channel"}


def test_an_error_is_one_line_and_exit_1(home) -> None:
    env = {"AGENTOPS_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "agentops", "detect", "--model", "ghost"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "error: unknown model 'ghost' in MODEL_METRICS (known: m1)"


def test_bad_inputs_raise_errors_a_user_can_act_on(home, tmp_path) -> None:
    bad = _csv(tmp_path / "bad.csv", ["V1"], [["1"], ["2", "3"]])
    for args, message in (
        (["detect", "--now", "yesterday"], "'yesterday' is not an ISO-8601 time"),
        (["drift", "compute", "--model", "m1", "--reference", str(bad)], "give either"),
    ):
        result = CliRunner().invoke(app, args)  # a usage error: exit 2, said on stderr
        assert result.exit_code == 2 and message in " ".join(result.stderr.split("│"))
    for args, message in (
        (
            ["drift", "compute", "--model", "m1", "--reference", str(bad), "--current", str(bad)],
            "line 3 has 2 fields",
        ),
        (
            [
                "drift",
                "compute",
                "--model",
                "m1",
                "--reference-table",
                "nope",
                "--current-table",
                "x",
            ],
            "table NOPE not found",
        ),
    ):
        result = CliRunner().invoke(app, args)
        assert isinstance(result.exception, DataError) and message in str(result.exception)
