"""The approval-required actions' work: retraining jobs and scaling (rollback goes through
the model registry port, `actions.registry`). Each function does the work and reports an
`Outcome`; `actions.execute` wraps them in the ledger and escalates a failure.

A trigger (AGENTOPS_RETRAIN_COMMAND / _WEBHOOK, AGENTOPS_SCALE_COMMAND / _WEBHOOK) receives
the job as JSON: on stdin for a command (run without a shell), as the POST body for a
webhook. A non-zero exit or a non-2xx answer is a failure.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from agentops.clock import iso, parse_instant
from agentops.domain import Incident
from agentops.store.load import to_db_time
from agentops.store.state_tables import retrain_jobs

TRIGGER_TIMEOUT_S = 600
DEFAULT_LOOKBACK_DAYS = 28


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


# ---- retraining ----------------------------------------------------------------------------
def training_window(
    incident: Incident, *, now: datetime, params: dict[str, Any]
) -> dict[str, datetime]:
    """The job's window: `lookback_days` (default 28) before the bad window up to `now`,
    excluding the bad window itself: from the first alerting window's start to the last
    alerting window's end (`exclude_start` / `exclude_end` in params override it)."""
    alerts = incident.alerts
    bad_start = min((a.window_start for a in alerts), default=incident.opened_at)
    bad_end = max((a.window_end for a in alerts), default=now)
    if params.get("exclude_start"):
        bad_start = parse_instant(params["exclude_start"], what="exclude_start")
    if params.get("exclude_end"):
        bad_end = parse_instant(params["exclude_end"], what="exclude_end")
    lookback = timedelta(days=float(params.get("lookback_days", DEFAULT_LOOKBACK_DAYS)))
    return {
        "train_start": bad_start - lookback,
        "train_end": max(now, bad_end),
        "excluded_start": bad_start,
        "excluded_end": bad_end,
    }


def record_retrain_job(
    conn: sa.Connection, incident: Incident, *, now: datetime, params: dict[str, Any]
) -> dict[str, Any]:
    window = training_window(incident, now=now, params=params)
    job = {
        "job_id": f"retrain-{incident.incident_id}",
        "incident_id": incident.incident_id,
        "model_name": incident.model_name,
        "status": "recorded",
        "created_at": now,
        **window,
    }
    conn.execute(
        retrain_jobs.insert().values(
            **{k: to_db_time(v, what=k) if isinstance(v, datetime) else v for k, v in job.items()}
        )
    )
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in job.items()}


def set_job_status(conn: sa.Connection, job_id: str, status: str) -> None:
    conn.execute(retrain_jobs.update().where(retrain_jobs.c.job_id == job_id).values(status=status))


# ---- triggers ------------------------------------------------------------------------------
def trigger(command: str | None, webhook: str | None, payload: dict[str, Any]) -> Outcome:
    """Run the configured command, else POST to the webhook; Outcome(ok=False) on failure."""
    body = json.dumps(payload, default=str)
    if command:
        try:
            done = subprocess.run(
                shlex.split(command),
                input=body,
                capture_output=True,
                text=True,
                timeout=TRIGGER_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Outcome(False, f"command {command!r} could not run: {exc}")
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            return Outcome(False, f"command {command!r} exited {done.returncode}: {tail[0]}")
        return Outcome(True, f"command {command!r} succeeded", {"stdout": done.stdout[-500:]})
    if webhook:
        request = urllib.request.Request(
            webhook,
            data=body.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            return Outcome(False, f"webhook {webhook} answered HTTP {exc.code}")
        except (urllib.error.URLError, OSError) as exc:
            return Outcome(False, f"webhook {webhook} unreachable: {exc}")
        return Outcome(True, f"webhook {webhook} accepted the job (HTTP {status})")
    return Outcome(True, "no trigger configured", {"triggered": False})
