"""The approval-required actions' work: training windows, retraining job rows and triggers
(rollback and promotion go through the model registry port, `actions.registry`; the job's
life after its approval is `actions.jobs`). Each trigger reports an `Outcome`;
`actions.remediate` wraps them in the ledger and escalates a failure.

A trigger (AGENTOPS_RETRAIN_COMMAND / _WEBHOOK, AGENTOPS_SCALE_COMMAND / _WEBHOOK) receives
the job as JSON: on stdin for a command (run without a shell), as the POST body for a
webhook. A non-zero exit or a non-2xx answer is a failure. What the command prints on stdout
(or the webhook answers) is kept: a retraining job may report its result there.
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

from agentops.clock import iso
from agentops.domain import Incident, RootCauseCategory
from agentops.params import RetrainParams
from agentops.store import queries
from agentops.store.load import to_db_time
from agentops.store.state_tables import retrain_jobs

TRIGGER_TIMEOUT_S = 600
# An attack runs before it is caught: the day before an adversarial incident was opened is
# left out of training too, up to its resolution (or now, while it is open).
ATTACK_LEAD = timedelta(hours=24)
ANSWER_LIMIT = 20_000  # characters of a trigger's answer kept (a result is a small JSON)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


# ---- training windows ----------------------------------------------------------------------
@dataclass(frozen=True)
class Excluded:
    """A span of data the job must not learn from, and why."""

    start: datetime
    end: datetime
    why: str
    poisoned: bool = False  # an adversarial incident's window, not this incident's own

    def as_json(self) -> dict[str, str]:
        return {"start": iso(self.start), "end": iso(self.end), "why": self.why}


@dataclass(frozen=True)
class TrainingWindow:
    """The data a retraining job learns from, as of `as_of` (when it starts)."""

    mode: str
    as_of: datetime
    start: datetime
    end: datetime  # as_of - label delay: the newest data whose labels have matured
    label_delay_hours: float
    excluded: tuple[Excluded, ...]
    recent_start: datetime | None = None  # recent_weighted: from here on, weighted
    recent_weight: float = 1.0

    @property
    def bad_window(self) -> Excluded | None:
        """The incident's own bad window (the first exclusion), if any."""
        return self.excluded[0] if self.excluded and not self.excluded[0].poisoned else None

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "as_of": iso(self.as_of),
            "train_start": iso(self.start),
            "train_end": iso(self.end),
            "label_delay_hours": self.label_delay_hours,
            "excluded": [e.as_json() for e in self.excluded],
            "recent_start": iso(self.recent_start) if self.recent_start else None,
            "recent_weight": self.recent_weight,
        }

    def describe(self) -> str:
        """One line: the span, what is left out, what is weighted."""
        text = f"trains on {_day(self.start)} → {_day(self.end)}"
        if self.label_delay_hours:
            text += f" (labels mature after {hours_text(self.label_delay_hours)})"
        if self.excluded:
            text += ", excluding " + "; ".join(
                f"{_day(e.start)} → {_day(e.end)} ({e.why})" for e in self.excluded
            )
        if self.recent_start is not None and self.recent_weight > 1:
            text += (
                f"; {_day(self.recent_start)} → {_day(self.end)} weighted ×{self.recent_weight:g}"
            )
        return text


def training_window(
    incident: Incident,
    *,
    now: datetime,
    params: RetrainParams,
    fixed_at: datetime | None = None,
    poisoned: list[Excluded] | None = None,
) -> TrainingWindow:
    """The window a job starting at `now` trains on (RetrainParams says how, per mode).

    It ends `label_delay_hours` before `now` and spans `lookback_days`. `exclude_bad_window`
    leaves out the bad window (`exclude_start`..`exclude_end`, by default the incident's
    alerting windows); `after_upstream_fix` leaves out the malformed data from
    `exclude_start` until the fix (`fixed_at`, else `now`); `recent_weighted` leaves nothing
    of the incident out (the drifted data is the new normal) and weights the newest
    `recent_days`. `poisoned` windows (adversarial incidents) are left out in every mode."""
    end = now - timedelta(hours=params.label_delay_hours)
    start = end - timedelta(days=params.lookback_days)
    first = min((a.window_start for a in incident.alerts), default=incident.opened_at)
    last = max((a.window_end for a in incident.alerts), default=now)
    excluded: list[Excluded] = []
    recent_start = None
    if params.mode == "exclude_bad_window":
        bad_start = params.exclude_start or first
        bad_end = params.exclude_end or max(last, bad_start)
        excluded.append(Excluded(bad_start, bad_end, "the incident's bad window"))
    elif params.mode == "after_upstream_fix":
        bad_start = params.exclude_start or first
        fix = fixed_at or now
        excluded.append(
            Excluded(bad_start, max(fix, bad_start), "malformed data from the upstream change")
        )
    else:
        recent_start = max(start, end - timedelta(days=params.recent_days))
    for window in poisoned or []:
        if window.start < end and window.end > start and window not in excluded:
            excluded.append(window)
    return TrainingWindow(
        mode=params.mode,
        as_of=now,
        start=start,
        end=end,
        label_delay_hours=params.label_delay_hours,
        excluded=tuple(excluded),
        recent_start=recent_start,
        recent_weight=params.recent_weight if recent_start is not None else 1.0,
    )


def poisoned_windows(conn: sa.Connection, model: str, *, now: datetime) -> list[Excluded]:
    """The windows adversarial incidents of `model` poisoned (the monitoring INCIDENTS:
    history and agentops's own copies): from a day before each was opened until it was
    resolved, or `now` while it is open."""
    rows = queries.history_incidents(conn, model_name=model, limit=1000)
    out = []
    for row in rows:
        if row.get("root_cause_category") != RootCauseCategory.adversarial.value:
            continue
        opened: datetime = row["opened_at"]
        if opened > now:
            continue
        end = row.get("resolved_at") or now
        why = f"poisoned: adversarial incident {row['incident_id']}"
        out.append(Excluded(opened - ATTACK_LEAD, min(end, now), why, poisoned=True))
    out.sort(key=lambda e: e.start)
    return out


def rows_in(conn: sa.Connection, model: str, window: TrainingWindow) -> tuple[int, int]:
    """(requests, windows): the MODEL_METRICS request_count summed over the complete windows
    inside the training window that no exclusion touches."""
    rows = queries.metrics_history(conn, model, window.start, window.end)
    total, count = 0, 0
    for row in rows:
        if row["window_end"] > window.end:
            continue
        if any(
            row["window_start"] < e.end and row["window_end"] > e.start for e in window.excluded
        ):
            continue
        count += 1
        total += int(row.get("request_count") or 0)
    return total, count


def hours_text(hours: float) -> str:
    """'21 d', '36 h', '0 h'."""
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:g} d"
    return f"{hours:g} h"


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


# ---- the job row ----------------------------------------------------------------------------
def record_retrain_job(
    conn: sa.Connection,
    incident: Incident,
    *,
    now: datetime,
    window: TrainingWindow,
    spec: dict[str, Any],
    status: str,
    waiting_for: str | None = None,
) -> dict[str, Any]:
    """Insert the job row (one per incident); returns it with ISO times."""
    bad = window.bad_window
    job: dict[str, Any] = {
        "job_id": f"retrain-{incident.incident_id}",
        "incident_id": incident.incident_id,
        "model_name": incident.model_name,
        "status": status,
        "created_at": now,
        "train_start": window.start,
        "train_end": window.end,
        "excluded_start": bad.start if bad else None,
        "excluded_end": bad.end if bad else None,
        "waiting_for": waiting_for,
    }
    job["params"] = json.dumps(spec, default=str)
    conn.execute(
        retrain_jobs.insert().values(
            **{k: to_db_time(v, what=k) if isinstance(v, datetime) else v for k, v in job.items()}
        )
    )
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in job.items()}


def set_job_status(conn: sa.Connection, job_id: str, status: str, **values: Any) -> None:
    stored = {k: to_db_time(v, what=k) if isinstance(v, datetime) else v for k, v in values.items()}
    conn.execute(
        retrain_jobs.update().where(retrain_jobs.c.job_id == job_id).values(status=status, **stored)
    )


# ---- triggers ------------------------------------------------------------------------------
def trigger(command: str | None, webhook: str | None, payload: dict[str, Any]) -> Outcome:
    """Run the configured command, else POST to the webhook; Outcome(ok=False) on failure.
    `data["answer"]` holds what the command printed or the webhook answered."""
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
        return Outcome(
            True, f"command {command!r} succeeded", {"answer": done.stdout[-ANSWER_LIMIT:]}
        )
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
                answer = response.read(ANSWER_LIMIT).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return Outcome(False, f"webhook {webhook} answered HTTP {exc.code}")
        except (urllib.error.URLError, OSError) as exc:
            return Outcome(False, f"webhook {webhook} unreachable: {exc}")
        return Outcome(
            True, f"webhook {webhook} accepted the job (HTTP {status})", {"answer": answer}
        )
    return Outcome(True, "no trigger configured", {"triggered": False})
