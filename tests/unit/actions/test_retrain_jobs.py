"""Retraining that makes sense per cause (issue 17): windows of matured labels that leave the
bad and poisoned data out, a job that waits for the upstream fix and then starts once, and a
promotion gate that replaces the model only with a candidate at least as good."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentops.actions import Policy, execute
from agentops.actions.executors import poisoned_windows, training_window
from agentops.actions.jobs import JobResult, promotion_gate, record_result, start_ready_jobs
from agentops.controls import confirm_fix
from agentops.domain import Action, ActionType
from agentops.graph.identity import Identity
from agentops.params import RetrainParams
from agentops.settings import Settings
from agentops.store import Stores, queries
from agentops.store import incidents as store_incidents
from agentops.store.load import load_tables
from agentops.store.state_tables import retrain_jobs

from .builders import MODEL, NOW, drift_incident, make_settings, seed_registry, store_incident

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
INCIDENT = drift_incident()
JOB = "retrain-INC-2026-1120-1"
KEY = "INC-2026-1120-1|retrain_model|classifier_v2"
CHANGE = NOW - 6 * HOUR  # the upstream run that changed the format
BAD_START = min(a.window_start for a in INCIDENT.alerts)
BAD_END = max(a.window_end for a in INCIDENT.alerts)
PASSING = {
    "status": "succeeded",
    "candidate_version": "2.4.0",
    "holdout": "2026-11-13..2026-11-19, matured labels",
    "candidate": {"f1": 0.86, "precision": 0.88, "recall": 0.84},
    "current": {"f1": 0.66, "precision": 0.81, "recall": 0.56},
}
WORSE_RECALL = {**PASSING, "candidate": {"f1": 0.90, "recall": 0.52}}


# ---- windows per cause ----------------------------------------------------------------------------
def test_concept_drift_trains_on_recent_matured_data_weighted_in() -> None:
    params = RetrainParams(mode="recent_weighted", label_delay_hours=21 * 24, recent_weight=3)
    window = training_window(INCIDENT, now=NOW, params=params)
    assert window.end == NOW - 21 * DAY  # only labels that have matured (chargebacks)
    assert window.start == window.end - 28 * DAY
    assert window.excluded == ()  # the drifted data is the new concept: nothing left out
    assert window.recent_start == window.end - 7 * DAY and window.recent_weight == 3
    # with labels that arrive at once, the latest windows (the new concept) are in
    fresh = training_window(
        INCIDENT, now=NOW, params=params.model_copy(update={"label_delay_hours": 0})
    )
    assert fresh.end == NOW and fresh.excluded == ()


def test_an_upstream_change_leaves_out_the_malformed_data_until_the_fix() -> None:
    params = RetrainParams(
        mode="after_upstream_fix", exclude_start=CHANGE, label_delay_hours=6, pipeline="etl"
    )
    fixed_at = NOW + 3 * HOUR
    window = training_window(INCIDENT, now=NOW + 4 * HOUR, params=params, fixed_at=fixed_at)
    assert window.end == NOW - 2 * HOUR  # started at +4 h, labels take 6 h
    assert [(e.start, e.end) for e in window.excluded] == [(CHANGE, fixed_at)]


def test_other_causes_never_train_on_the_bad_window_nor_a_poisoned_one(
    store: Stores,
) -> None:
    load_tables(
        store.monitoring,
        {
            "incidents": [
                _history("INC-2026-1105-1", "adversarial", NOW - 15 * DAY, NOW - 14 * DAY),
                _history("INC-2026-0101-1", "adversarial", NOW - 300 * DAY, NOW - 299 * DAY),
                _history("INC-2026-1110-1", "concept_drift", NOW - 10 * DAY, NOW - 9 * DAY),
            ]
        },
    )
    with store.monitoring.connect() as conn:
        poisoned = poisoned_windows(conn, MODEL, now=NOW)
    params = RetrainParams(mode="exclude_bad_window", label_delay_hours=24)
    window = training_window(INCIDENT, now=NOW, params=params, poisoned=poisoned)
    spans = [(e.start, e.end, e.poisoned) for e in window.excluded]
    attack = (NOW - 16 * DAY, NOW - 14 * DAY, True)  # from a day before it was caught
    assert spans == [(BAD_START, BAD_END, False), attack]  # the old attack is outside it
    drift = training_window(
        INCIDENT, now=NOW, params=RetrainParams(mode="recent_weighted"), poisoned=poisoned
    )
    assert [(e.start, e.end, e.poisoned) for e in drift.excluded] == [attack]


# ---- waiting for the upstream fix ------------------------------------------------------------------
def test_an_upstream_retrain_is_queued_until_a_newer_successful_run_then_starts_once(
    tmp_path: Path, store: Stores, policy: Policy
) -> None:
    cfg = make_settings(tmp_path / "home", retrain_command=_trainer(tmp_path, None))
    store_incident(store, INCIDENT)
    result = _retrain(store, cfg, policy, _upstream())
    assert result.status == "queued", result.detail
    assert "waits for the upstream fix" in result.detail and "transactions_etl" in result.detail
    assert (_ledger(store), _job(store)["status"]) == ("queued", "waiting")
    assert _jobs_received(tmp_path) == []
    _waits_for_recovery(store)
    # runs that are not the fix: before the job was recorded, failed, or another pipeline
    load_tables(
        store.monitoring,
        {
            "pipeline_runs": [
                _run("etl-early", "transactions_etl", -30 * 60, "success"),
                _run("etl-failed", "transactions_etl", 20 * 60, "failed"),
                _run("crm-ok", "crm_export", 25 * 60, "success"),
            ]
        },
    )
    assert start_ready_jobs(store, cfg, NOW + HOUR, policy=policy) == []
    assert _job(store)["status"] == "waiting" and _jobs_received(tmp_path) == []
    detail = _incident(store)["waiting_detail"]
    assert detail.startswith("0/2 healthy windows;") and "waits for the upstream fix" in detail

    load_tables(
        store.monitoring,
        {"pipeline_runs": [_run("etl-fixed", "transactions_etl", 70 * 60, "success")]},
    )
    [started] = start_ready_jobs(store, cfg, NOW + 2 * HOUR, policy=policy)
    assert started.status == "triggered" and "etl-fixed" in started.detail
    [job] = _jobs_received(tmp_path)
    assert job["job"]["fixed"]["by"].startswith("pipeline transactions_etl run etl-fixed")
    # the malformed data is left out up to the fixed run
    assert job["job"]["excluded"][0]["end"] == "2026-11-20T13:10:00Z"
    assert _ledger(store) == "succeeded"
    assert "upstream fix" not in (_incident(store)["waiting_detail"] or "")
    # once: later passes start nothing again
    assert start_ready_jobs(store, cfg, NOW + 3 * HOUR, policy=policy) == []
    assert len(_jobs_received(tmp_path)) == 1


def test_a_person_confirming_the_fix_starts_the_waiting_job(
    tmp_path: Path, store: Stores, policy: Policy
) -> None:
    cfg = make_settings(tmp_path / "home", retrain_command=_trainer(tmp_path, None))
    store_incident(store, INCIDENT)
    assert _retrain(store, cfg, policy, _upstream(pipeline=None)).status == "queued"
    assert start_ready_jobs(store, cfg, NOW + HOUR, policy=policy) == []
    alice = Identity("alice", "cli")
    confirm_fix(store, INCIDENT.incident_id, alice, "vendor rolled back v3", at=NOW + 2 * HOUR)
    [started] = start_ready_jobs(store, cfg, NOW + 2 * HOUR, policy=policy)
    assert "alice (cli) confirmed the upstream fix: vendor rolled back v3" in started.detail
    assert len(_jobs_received(tmp_path)) == 1 and _ledger(store) == "succeeded"


def test_a_fix_confirmed_before_the_approval_starts_the_job_at_once(
    tmp_path: Path, store: Stores, policy: Policy
) -> None:
    cfg = make_settings(tmp_path / "home", retrain_command=_trainer(tmp_path, None))
    store_incident(store, INCIDENT)
    confirm_fix(
        store, INCIDENT.incident_id, Identity("bob", "cli"), "", at=NOW - timedelta(minutes=5)
    )
    result = _retrain(store, cfg, policy, _upstream())
    assert result.status == "succeeded" and "bob (cli) confirmed" in result.detail
    assert len(_jobs_received(tmp_path)) == 1


# ---- the promotion gate ------------------------------------------------------------------------------
def test_the_gate_promotes_a_candidate_at_least_as_good_through_the_registry(
    tmp_path: Path, store: Stores, policy: Policy
) -> None:
    seed_registry(store, [("2.2.0", False, "good"), ("2.3.0", True, "good")])
    cfg = make_settings(tmp_path / "home", retrain_command=_trainer(tmp_path, PASSING))
    store_incident(store, INCIDENT)
    result = _retrain(store, cfg, policy, RetrainParams(mode="recent_weighted", recent_weight=3))
    assert result.status == "succeeded", result.detail
    assert "promoted: candidate 2.4.0 on 2026-11-13..2026-11-19" in result.detail
    assert _serving(store) == "2.4.0"
    assert _job(store)["status"] == "promoted"
    assert _escalations(store) == []


def test_the_gate_refuses_a_candidate_with_worse_recall_and_tells_the_ml_lead(
    tmp_path: Path, store: Stores, policy: Policy
) -> None:
    seed_registry(store, [("2.2.0", False, "good"), ("2.3.0", True, "good")])
    cfg = make_settings(tmp_path / "home", retrain_command=_trainer(tmp_path, WORSE_RECALL))
    store_incident(store, INCIDENT)
    result = _retrain(store, cfg, policy, RetrainParams(mode="recent_weighted"))
    assert "promotion refused: candidate 2.4.0 is worse" in result.detail
    assert "recall 0.520 < current 0.560" in result.detail
    assert _serving(store) == "2.3.0"  # the model that serves is left alone
    job = _job(store)
    assert job["status"] == "refused"
    assert json.loads(job["result"])["verdict"]["passed"] is False
    assert _escalations(store) == ["U0LEAD", "dana@example.com"]
    assert _incident(store)["status"] == "escalated"


def test_a_result_reported_later_goes_through_the_gate_once(
    tmp_path: Path, store: Stores, policy: Policy
) -> None:
    seed_registry(store, [("2.3.0", True, "good")])
    cfg = make_settings(tmp_path / "home", retrain_command=_trainer(tmp_path, None))
    store_incident(store, INCIDENT)
    result = _retrain(store, cfg, policy, RetrainParams(mode="recent_weighted"))
    assert "its result comes later (agentops retrain-result" in result.detail
    assert _job(store)["status"] == "triggered" and _serving(store) == "2.3.0"
    later = NOW + 5 * HOUR
    report = record_result(store, cfg, JOB, JobResult.model_validate(PASSING), now=later, via="t")
    assert report.status == "promoted" and _serving(store) == "2.4.0"
    again = record_result(
        store, cfg, JOB, JobResult.model_validate(WORSE_RECALL), now=later, via="t"
    )
    assert again.status == "promoted" and again.detail.startswith("already promoted")
    assert _escalations(store) == []


def test_a_job_reporting_failure_escalates(tmp_path: Path, store: Stores, policy: Policy) -> None:
    cfg = make_settings(tmp_path / "home", retrain_command=_trainer(tmp_path, None))
    store_incident(store, INCIDENT)
    _retrain(store, cfg, policy, RetrainParams(mode="recent_weighted"))
    failed = JobResult(status="failed", detail="out of GPU memory")
    report = record_result(store, cfg, JOB, failed, now=NOW + HOUR, via="t", policy=policy)
    assert report.status == "failed" and "out of GPU memory" in report.detail
    assert _escalations(store) == ["U0LEAD", "dana@example.com"]


@pytest.mark.parametrize(
    ("result", "why"),
    [
        ({**PASSING, "candidate_version": None}, "names no candidate version"),
        ({**PASSING, "current": {"f1": 0.66}}, "lacks the current model's recall"),
        ({**PASSING, "candidate": {"f1": 0.65, "recall": 0.9}}, "f1 0.650 < current 0.660"),
    ],
)
def test_the_gate_refuses_what_it_cannot_show_is_not_worse(
    result: dict[str, Any], why: str
) -> None:
    verdict = promotion_gate(JobResult.model_validate(result))
    assert not verdict.passed and why in verdict.reason
    assert promotion_gate(JobResult.model_validate({**PASSING, "current": PASSING["candidate"]}))


def test_retrain_result_from_the_command_line(tmp_path: Path, store: Stores) -> None:
    import os
    import subprocess

    seed_registry(store, [("2.3.0", True, "good")])
    home = tmp_path / "home"
    cfg = make_settings(home, retrain_command=_trainer(tmp_path, None))
    store_incident(store, INCIDENT)
    _retrain(store, cfg, None, RetrainParams(mode="recent_weighted"))
    result = tmp_path / "result.json"
    result.write_text(json.dumps(PASSING))
    env = {**os.environ, "AGENTOPS_HOME": str(home)}
    command = [sys.executable, "-m", "agentops", "retrain-result", JOB, "--file", str(result)]
    done = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "promoted" and _serving(store) == "2.4.0"
    result.write_text('{"status": "succeeded", "candidate": {"f1": 7}}')
    bad = subprocess.run(command, capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "not a retraining result: candidate.f1" in bad.stderr


# ---- MLflow: the run's metrics decide ----------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_with_a_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Versions 1..3 with `champion` on 3, and a training run that logged the candidate's and
    the current model's metrics on one holdout and registered version 4."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow import MlflowClient

        folder = tmp_path_factory.mktemp("mlflow")
        patch.chdir(folder)
        uri = f"sqlite:///{folder}/mlflow.db"
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.create_registered_model(MODEL)
        for n in (1, 2, 3):
            client.create_model_version(MODEL, source=f"{folder.as_uri()}/artifacts/{n}")
        client.set_registered_model_alias(MODEL, "champion", "3")
        experiment = client.create_experiment("retraining", artifact_location=folder.as_uri())
        run = client.create_run(experiment)
        for name, value in {
            "f1": 0.9,
            "recall": 0.85,
            "current_f1": 0.8,
            "current_recall": 0.8,
        }.items():
            client.log_metric(run.info.run_id, name, value)
        client.create_model_version(
            MODEL, source=f"{folder.as_uri()}/artifacts/4", run_id=run.info.run_id
        )
        return folder / "mlflow.db", run.info.run_id


def test_with_mlflow_the_runs_metrics_pass_the_gate_and_move_the_alias(
    tmp_path: Path,
    store: Stores,
    policy: Policy,
    mlflow_with_a_run: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow import MlflowClient

    template, run_id = mlflow_with_a_run
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.chdir(tmp_path)
    shutil.copy(template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = make_settings(
        tmp_path / "home",
        retrain_command=_trainer(tmp_path, {"status": "succeeded", "mlflow_run_id": run_id}),
        registry="mlflow",
        registry_mlflow_uri=uri,
    )
    store_incident(store, INCIDENT)
    result = _retrain(store, cfg, policy, RetrainParams(mode="recent_weighted"))
    assert "promoted: candidate 4 on the same holdout: f1 0.900 vs 0.800" in result.detail
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "4"


# ---- helpers -----------------------------------------------------------------------------------------
def _upstream(pipeline: str | None = "transactions_etl") -> RetrainParams:
    return RetrainParams(mode="after_upstream_fix", exclude_start=CHANGE, pipeline=pipeline)


def _retrain(store: Stores, cfg: Settings, policy: Policy | None, params: RetrainParams) -> Any:
    action = Action(type=ActionType.retrain_model, target=MODEL, params=params.wire())
    return execute(store, cfg, INCIDENT, action, now=NOW, approved_by="alice", policy=policy)


def _trainer(folder: Path, answer: dict[str, Any] | None) -> str:
    """A trainer command: keeps each job it is given, prints `answer` (None: nothing, the
    result comes later)."""
    script = folder / "trainer.py"
    script.write_text(
        "import pathlib, sys\n"
        f"with pathlib.Path({str(folder / 'jobs.jsonl')!r}).open('a') as kept:\n"
        "    kept.write(sys.stdin.read().strip() + '\\n')\n"
        + (f"print({json.dumps(json.dumps(answer))})\n" if answer is not None else "")
    )
    return f"{sys.executable} {script}"


def _jobs_received(folder: Path) -> list[dict[str, Any]]:
    kept = folder / "jobs.jsonl"
    return [json.loads(line) for line in kept.read_text().splitlines()] if kept.exists() else []


def _run(run_id: str, pipeline: str, started_s: int, status: str) -> dict[str, Any]:
    started = NOW + timedelta(seconds=started_s)
    return {
        "run_id": run_id,
        "pipeline_name": pipeline,
        "model_name": MODEL,
        "source": "vendor_api",
        "started_at": started,
        "finished_at": started + timedelta(minutes=15),
        "status": status,
        "rows_processed": 1000,
        "notes": "",
    }


def _history(
    incident_id: str, category: str, opened: datetime, resolved: datetime
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "model_name": MODEL,
        "severity": "P1",
        "alert_types": "model_performance",
        "root_cause_category": category,
        "root_cause": "...",
        "opened_at": opened,
        "resolved_at": resolved,
    }


def _waits_for_recovery(store: Stores) -> None:
    with store.state.begin() as conn:
        store_incidents.set_incident_fields(
            conn,
            INCIDENT.incident_id,
            status="monitoring",
            waiting_for="recovery",
            waiting_detail="0/2 healthy windows",
        )


def _job(store: Stores) -> dict[str, Any]:
    with store.state.connect() as conn:
        [row] = conn.execute(sa.select(retrain_jobs)).mappings().all()
    return dict(row)


def _ledger(store: Stores) -> str:
    with store.state.connect() as conn:
        return {
            r["idempotency_key"]: r["status"]
            for r in queries.action_log_for(conn, INCIDENT.incident_id)
        }[KEY]


def _incident(store: Stores) -> dict[str, Any]:
    with store.state.connect() as conn:
        row = queries.get_incident_row(conn, INCIDENT.incident_id)
    assert row is not None
    return row


def _serving(store: Stores) -> str:
    with store.monitoring.connect() as conn:
        [active] = [r["model_version"] for r in queries.registry(conn, MODEL) if r["active"]]
    return str(active)


def _escalations(store: Stores) -> list[str]:
    with store.state.connect() as conn:
        return [
            str(r["target"]) for r in queries.messages_for(conn) if "|escalate|" in r["message_id"]
        ]
