"""A retraining job after its approval: waiting for an upstream fix, starting, and the
promotion gate that decides whether its candidate replaces the model.

- `open_job` (in `remediate.retrain_model`, inside the ledger claim's transaction) records
  the job: `waiting` when it must wait for an upstream fix (mode after_upstream_fix), else
  `starting`.
- `start_job` computes the window at the start (matured labels only; the bad window and
  every poisoned window left out), triggers AGENTOPS_RETRAIN_COMMAND / _WEBHOOK with the job,
  and reads a result the trigger answered at once (JSON on stdout, or the response body).
- `start_ready_jobs` (every scheduler pass, after the SLA sweep) starts each waiting job
  whose fix is confirmed: a successful run of its pipeline that started after the job was
  recorded, or a person's `agentops confirm-fix`.
- `record_result` takes a job's result (at once, or later from `agentops retrain-result`),
  runs the promotion gate and promotes the candidate through the model registry; a refused
  or failed job escalates to the matrix's `remediation_failed` target (ml_team_lead).

Statuses: waiting → starting → triggered (its trainer runs; the result comes later) |
recorded (no trigger configured) | failed; then deciding → promoted | refused | failed.
Every step is claimed with a conditional update, so two workers never start or promote one
job twice; a process that dies mid-step leaves `starting` / `deciding` for a person to check.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentops.actions import executors, messaging
from agentops.actions.clients import Senders
from agentops.actions.policy import Policy
from agentops.actions.registry import (
    RegistryError,
    ServingOutcome,
    TableRegistry,
    promote,
    registry_for,
)
from agentops.actions.registry.mlflow_registry import MlflowRegistry
from agentops.actions.runtime import Runtime
from agentops.clock import iso
from agentops.domain import Action, ActionType, Incident, IncidentStatus, TimelineEntry
from agentops.errors import AgentOpsError, ConfigError, DataError
from agentops.params import EscalateParams, RetrainParams
from agentops.settings import Settings
from agentops.store import Stores, ledger, queries
from agentops.store import incidents as store_incidents
from agentops.store.load import to_db_time
from agentops.store.state_tables import retrain_jobs
from agentops.store.tables import pipeline_runs

log = logging.getLogger("agentops.jobs")

GATED = ("f1", "recall")  # retraining.md: promote only if F1 and recall are at least as good
STARTED = ("triggered", "recorded")  # a result may be recorded for these
FINAL = ("promoted", "refused", "failed")
RESULT_VIA = "agentops retrain-result {job_id} --file result.json"


# ---- the trainer's result and the gate ------------------------------------------------------
class Scores(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    f1: float | None = Field(None, ge=0, le=1)
    precision: float | None = Field(None, ge=0, le=1)
    recall: float | None = Field(None, ge=0, le=1)


class JobResult(BaseModel):
    """What a trainer reports (JSON on the command's stdout, in the webhook's answer, or to
    `agentops retrain-result`): the candidate's and the serving model's validation metrics on
    ONE holdout, so the gate compares like with like. With the MLflow registry, the run's
    metrics (`f1`, `recall`, `current_f1`, `current_recall`) fill what is missing."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)

    status: Literal["succeeded", "failed", "running"] = "succeeded"
    candidate_version: str | None = Field(None, description="the version the job produced")
    candidate: Scores = Field(default_factory=Scores)
    current: Scores = Field(default_factory=Scores, description="the serving model, same data")
    holdout: str | None = Field(None, description="the validation data, in words")
    mlflow_run_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


def promotion_gate(result: JobResult) -> Verdict:
    """The candidate replaces the model only if its F1 and recall are at least the current
    model's on the same holdout; a result that cannot show it is refused."""
    version = result.candidate_version
    if not version:
        return Verdict(False, "the job's result names no candidate version")
    compared, worse = [], []
    for name in GATED:
        new, old = getattr(result.candidate, name), getattr(result.current, name)
        if new is None or old is None:
            whose = "candidate's" if new is None else "current model's"
            return Verdict(False, f"cannot compare {name}: the result lacks the {whose} {name}")
        compared.append(f"{name} {new:.3f} vs {old:.3f}")
        if new < old:
            worse.append(f"{name} {new:.3f} < current {old:.3f}")
    on = f" on {result.holdout}" if result.holdout else " on the same holdout"
    if worse:
        return Verdict(False, f"candidate {version} is worse{on}: " + "; ".join(worse))
    return Verdict(True, f"candidate {version}{on}: " + ", ".join(compared) + " (not worse)")


def parse_result(text: str) -> JobResult | None:
    """A result in a trigger's answer, or None when it only started the job (no answer, or
    one without a `status`). DataError when it is a result but not a valid one."""
    try:
        raw = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None
    if not isinstance(raw, dict) or "status" not in raw:
        return None
    return read_result(raw)


def read_result(raw: Any) -> JobResult:
    """DataError naming the field when `raw` is not a result."""
    try:
        return JobResult.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "result"
        raise DataError(f"not a retraining result: {where}: {first['msg']}") from None


# ---- what happened, for callers -----------------------------------------------------------------
@dataclass(frozen=True)
class JobReport:
    job_id: str
    incident_id: str
    status: str
    detail: str


@dataclass(frozen=True)
class Fix:
    """The upstream fix a waiting job waited for: when, and who or what says so."""

    at: datetime
    by: str


# ---- opening a job (remediate.retrain_model) -----------------------------------------------
def job_id_for(incident_id: str) -> str:
    return f"retrain-{incident_id}"


def waiting_text(job_id: str, incident_id: str, params: RetrainParams, since: datetime) -> str:
    """What a waiting job waits for, in words a person can act on."""
    run = (
        f"a successful run of pipeline {params.pipeline} started after {iso(since)}, or "
        if params.pipeline
        else ""
    )
    return (
        f"retrain job {job_id} waits for the upstream fix: {run}"
        f"`agentops confirm-fix {incident_id} --as NAME`"
    )


def window_for(
    rt: Runtime, incident: Incident, params: RetrainParams, fixed_at: datetime | None = None
) -> executors.TrainingWindow:
    with rt.monitoring.connect() as conn:
        poisoned = executors.poisoned_windows(conn, incident.model_name, now=rt.now)
    return executors.training_window(
        incident, now=rt.now, params=params, fixed_at=fixed_at, poisoned=poisoned
    )


def open_job(
    conn: sa.Connection,
    rt: Runtime,
    incident: Incident,
    params: RetrainParams,
    window: executors.TrainingWindow,
    *,
    ledger_key: str,
    approved_by: str | None,
) -> dict[str, Any]:
    """Record the job in the caller's transaction: `waiting` for an upstream fix, else
    `starting`. Its window is recomputed when it starts."""
    job_id = job_id_for(incident.incident_id)
    waits = params.mode == "after_upstream_fix"
    spec = {
        "params": params.wire(),
        "ledger_key": ledger_key,
        "approved_by": approved_by,
        "window": window.as_json(),
    }
    return executors.record_retrain_job(
        conn,
        incident,
        now=rt.now,
        window=window,
        spec=spec,
        status="waiting" if waits else "starting",
        waiting_for=waiting_text(job_id, incident.incident_id, params, rt.now) if waits else None,
    )


# ---- starting -------------------------------------------------------------------------------
def start_job(
    rt: Runtime,
    incident: Incident,
    job_id: str,
    fix: Fix | None,
    window: executors.TrainingWindow | None = None,
) -> executors.Outcome:
    """Start a job claimed as `starting`: its window as of now (computed here unless the
    caller already has it), the trigger, and the result if the trigger answered one.
    ok=False only when the trigger failed (the caller escalates)."""
    row = _job(rt.state, job_id)
    spec = _spec(row)
    if window is None:
        params = RetrainParams.model_validate(spec["params"])
        window = window_for(rt, incident, params, fix.at if fix else None)
    with rt.monitoring.connect() as conn:
        requests, windows = executors.rows_in(conn, incident.model_name, window)
    job = {
        "job_id": job_id,
        "incident_id": incident.incident_id,
        "model_name": incident.model_name,
        **window.as_json(),
        "requests": requests,
        "metric_windows": windows,
        "fixed": {"at": iso(fix.at), "by": fix.by} if fix else None,
    }
    spec = {**spec, "window": window.as_json(), "fixed": job["fixed"]}
    bad = window.bad_window
    with rt.state.begin() as conn:
        executors.set_job_status(
            conn,
            job_id,
            "starting",
            train_start=window.start,
            train_end=window.end,
            excluded_start=bad.start if bad else None,
            excluded_end=bad.end if bad else None,
            started_at=rt.now,
            waiting_for=None,
            params=json.dumps(spec, default=str),
        )
    payload = {
        "incident_id": incident.incident_id,
        "model_name": incident.model_name,
        "action": ActionType.retrain_model.value,
        "params": spec["params"],
        "approved_by": spec.get("approved_by"),
        "job": job,
        "result_via": "print the result JSON on stdout, or run " + RESULT_VIA.format(job_id=job_id),
    }
    what = f"job {job_id} {window.describe()}; {requests:,} requests in {windows} windows"
    command, webhook = rt.settings.retrain_command, rt.settings.retrain_webhook
    if not (command or webhook):
        detail = f"{what}; no AGENTOPS_RETRAIN_COMMAND or _WEBHOOK set: it waits in RETRAIN_JOBS"
        _set(rt, job_id, "recorded", detail)
        return executors.Outcome(True, detail, {"job": job})
    outcome = executors.trigger(command, webhook, payload)
    if not outcome.ok:
        _set(rt, job_id, "failed", outcome.detail, finished_at=rt.now)
        return executors.Outcome(False, f"{what}; {outcome.detail}", {"job": job})
    detail = f"{what}; {outcome.detail}"
    _set(rt, job_id, "triggered", detail)
    try:
        result = parse_result(str(outcome.data.get("answer") or ""))
    except DataError as exc:
        result = JobResult(status="failed", detail=f"the trigger's answer: {exc}")
    if result is None:
        detail += f"; its result comes later ({RESULT_VIA.format(job_id=job_id)})"
        return executors.Outcome(True, detail, {"job": job})
    report = decide(rt, incident, job_id, result, via="trigger")
    return executors.Outcome(True, f"{detail}; {report.detail}", {"job": job})


def confirmed_fix(stores: Stores, row: dict[str, Any], now: datetime) -> Fix | None:
    """The fix a waiting job waits for, if it came: a person's `confirm-fix` on the incident
    (or its storm), else a successful run of the job's pipeline that started after the job
    was recorded and finished by `now`."""
    params = RetrainParams.model_validate(_spec(row)["params"])
    with stores.state.connect() as conn:
        incident = queries.get_incident_row(conn, str(row["incident_id"]))
        rows = [incident] if incident else []
        if incident and incident.get("parent_id"):
            parent = queries.get_incident_row(conn, str(incident["parent_id"]))
            rows += [parent] if parent else []
    said = [
        e
        for r in rows
        for e in queries.incident_timeline(r)
        if e.phase == "upstream_fix_confirmed" and e.at <= now
    ]
    if said:
        first = min(said, key=lambda e: e.at)
        return Fix(first.at, first.note or "a person confirmed the fix")
    if not params.pipeline:
        return None
    recorded: datetime = row["created_at"]
    query = (
        sa.select(pipeline_runs)
        .where(
            pipeline_runs.c.pipeline_name == params.pipeline,
            pipeline_runs.c.status == "success",
            pipeline_runs.c.started_at > _naive(recorded),
            pipeline_runs.c.started_at <= _naive(now),
            sa.or_(
                pipeline_runs.c.finished_at.is_(None), pipeline_runs.c.finished_at <= _naive(now)
            ),
        )
        .order_by(pipeline_runs.c.started_at)
        .limit(1)
    )
    with stores.monitoring.connect() as conn:
        found = conn.execute(query).mappings().first()
    if found is None:
        return None
    run = queries.as_row(found)
    started = iso(run["started_at"])
    return Fix(
        run["started_at"],
        f"pipeline {params.pipeline} run {run['run_id']} succeeded (started {started})",
    )


def start_ready_jobs(
    stores: Stores,
    settings: Settings,
    now: datetime,
    *,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> list[JobReport]:
    """Start every waiting job whose upstream fix is confirmed, once (a step of every
    scheduler pass). A job still waiting says so in its incident's `waiting_detail`."""
    with stores.state.connect() as conn:
        waiting = [
            queries.as_row(r)
            for r in conn.execute(
                sa.select(retrain_jobs)
                .where(retrain_jobs.c.status == "waiting")
                .order_by(retrain_jobs.c.created_at)
            ).mappings()
        ]
    reports = []
    for row in waiting:
        try:
            report = _start_if_fixed(stores, settings, row, now, senders, policy)
        except AgentOpsError as exc:  # one job's trouble must not stop the pass
            log.warning("%s: %s", row["job_id"], exc)
            continue
        if report is not None:
            reports.append(report)
    return reports


def _start_if_fixed(
    stores: Stores,
    settings: Settings,
    row: dict[str, Any],
    now: datetime,
    senders: Senders | None,
    policy: Policy | None,
) -> JobReport | None:
    job_id, incident_id = str(row["job_id"]), str(row["incident_id"])
    fix = confirmed_fix(stores, row, now)
    with stores.state.begin() as conn:
        if fix is None:
            _show_waiting(conn, incident_id, str(row.get("waiting_for") or ""))
            return None
        if not claim_start(conn, job_id):
            return None  # another worker started it
        _hide_waiting(conn, incident_id, str(row.get("waiting_for") or ""))
        incident_row = queries.get_incident_row(conn, incident_id)
    if incident_row is None:
        raise DataError(f"retrain job {job_id}: no incident {incident_id}")
    incident = queries.incident_from_row(incident_row)
    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    params = RetrainParams.model_validate(_spec(row)["params"])
    window = window_for(rt, incident, params, fix.at)
    # said before the job runs: a trainer that answers at once is decided inside start_job,
    # and its verdict must follow this line, not precede it
    messaging.reply(
        rt,
        incident,
        f"retrain:{job_id}:started",
        f"🔁 Retraining started: upstream fix confirmed ({fix.by}); job {job_id} "
        f"{window.describe()}",
    )
    outcome = start_job(rt, incident, job_id, fix, window)
    status = "succeeded" if outcome.ok else "failed"
    detail = f"upstream fix confirmed ({fix.by}); {outcome.detail}"
    _settle_ledger(rt, str(_spec(row).get("ledger_key") or ""), status, detail)
    _note(rt, incident, f"retrain job {job_id} started: {detail}")
    if not outcome.ok:
        detail += "; " + escalate_failure(rt, incident, "retrain_model", outcome.detail)
        hand_over(rt, incident_id)
    return JobReport(job_id, incident_id, _job(stores.state, job_id)["status"], detail)


# ---- the result and the gate ------------------------------------------------------------------
def record_result(
    stores: Stores,
    settings: Settings,
    job_id: str,
    result: JobResult,
    *,
    now: datetime,
    via: str,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> JobReport:
    """A job's result, reported after it ran (`agentops retrain-result`, a callback): the
    gate, then promotion or escalation. A result for a decided job changes nothing."""
    job = find_job(stores.state, job_id)
    incident_row = None
    if job is not None:
        with stores.state.connect() as conn:
            incident_row = queries.get_incident_row(conn, str(job["incident_id"]))
    if job is None or incident_row is None:
        raise DataError(f"no retraining job {job_id!r} (its id is retrain-<incident id>)")
    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    return decide(rt, queries.incident_from_row(incident_row), job_id, result, via=via)


def decide(
    rt: Runtime, incident: Incident, job_id: str, result: JobResult, *, via: str
) -> JobReport:
    """Apply a result to a started job: still running, failed (escalate), or through the
    promotion gate (promote, or refuse and escalate)."""
    row = _job(rt.state, job_id)
    status = str(row["status"])
    if status in FINAL:
        return JobReport(job_id, incident.incident_id, status, f"already {status}: {row['detail']}")
    if status not in (*STARTED, "starting"):
        raise DataError(f"retrain job {job_id} is {status}: it has not started, no result yet")
    if result.status == "running":
        detail = "the trainer reports it running" + (f": {result.detail}" if result.detail else "")
        _set(rt, job_id, status, detail)
        return JobReport(job_id, incident.incident_id, status, detail)
    with rt.state.begin() as conn:
        if not _claim(conn, job_id, (*STARTED, "starting"), "deciding"):
            current = _job(rt.state, job_id)
            return JobReport(
                job_id, incident.incident_id, str(current["status"]), "decided elsewhere"
            )
    result, note = _with_run_metrics(rt, incident.model_name, result)
    stored: dict[str, Any] = {"result": result.model_dump(mode="json"), "via": via}
    if result.status == "failed":
        why = f"the retraining job failed: {result.detail or 'no detail given'}"
        return _close(rt, incident, job_id, "failed", why, stored, code="remediation_failed")
    verdict = promotion_gate(result)
    stored["verdict"] = {"passed": verdict.passed, "reason": verdict.reason}
    if not verdict.passed:
        why = f"promotion refused: {verdict.reason}{note}"
        return _close(rt, incident, job_id, "refused", why, stored, code="promotion_refused")
    assert result.candidate_version is not None, "the gate passed a named candidate"
    served = _promote(rt, incident, result.candidate_version, job_id)
    stored["promotion"] = {"ok": served.ok, "detail": served.detail, **served.data}
    if not served.ok:
        why = f"{verdict.reason}, but the promotion failed: {served.detail}"
        return _close(rt, incident, job_id, "failed", why, stored, code="remediation_failed")
    detail = f"promoted: {verdict.reason}{note}; {served.detail}"
    _set(rt, job_id, "promoted", detail, finished_at=rt.now, result=json.dumps(stored))
    _note(rt, incident, f"retrain job {job_id} {detail}")
    messaging.reply(rt, incident, f"retrain:{job_id}:decided", f"✅ Retrained model {detail}")
    return JobReport(job_id, incident.incident_id, "promoted", detail)


def _close(
    rt: Runtime,
    incident: Incident,
    job_id: str,
    status: str,
    why: str,
    stored: dict[str, Any],
    *,
    code: str,
) -> JobReport:
    """A job that did not give a better model: recorded, said in the thread, and handed to
    the ML team lead (the incident is `escalated` unless it already resolved)."""
    _set(rt, job_id, status, why, finished_at=rt.now, result=json.dumps(stored))
    _note(rt, incident, f"retrain job {job_id} {status}: {why}")
    messaging.reply(rt, incident, f"retrain:{job_id}:decided", f"⚠️ Retraining {status}: {why}")
    escalated = escalate_failure(rt, incident, "retrain_model", why, code=code)
    hand_over(rt, incident.incident_id)
    return JobReport(job_id, incident.incident_id, status, f"{why}; {escalated}")


def _with_run_metrics(rt: Runtime, model: str, result: JobResult) -> tuple[JobResult, str]:
    """With the MLflow registry, the run's logged metrics and registered version fill what
    the result leaves out; (result, a note when the run could not be read)."""
    if not result.mlflow_run_id or rt.settings.registry != "mlflow":
        return result, ""
    try:
        registry = registry_for(rt.settings, engine=rt.monitoring)
        assert isinstance(registry, MlflowRegistry)
        logged = registry.run_scores(model, result.mlflow_run_id)
    except (RegistryError, ConfigError) as exc:
        return result, f" (MLflow run {result.mlflow_run_id} unreadable: {exc})"

    def merged(given: Scores, found: dict[str, float | None]) -> Scores:
        return Scores.model_validate({**found, **given.model_dump(exclude_none=True)})

    return result.model_copy(
        update={
            "candidate": merged(result.candidate, logged["candidate"]),
            "current": merged(result.current, logged["current"]),
            "candidate_version": result.candidate_version or logged["candidate_version"],
        }
    ), ""


def _promote(rt: Runtime, incident: Incident, version: str, job_id: str) -> ServingOutcome:
    model = incident.model_name
    reason = f"retrained by {job_id} for {incident.incident_id}; promotion gate passed"
    try:
        registry = registry_for(rt.settings, engine=rt.monitoring, clock=lambda: rt.now)
        if isinstance(registry, TableRegistry):
            registry.register(model, version)  # a new candidate: MODEL_REGISTRY learns it
    except (ConfigError, RegistryError) as exc:
        return ServingOutcome(False, str(exc), model, None, version, rt.settings.registry)
    return promote(registry, model, version, reason=reason, actor="agentops")


# ---- escalation and bookkeeping -----------------------------------------------------------------
def escalate_failure(
    rt: Runtime, incident: Incident, what: str, why: str, *, code: str = "remediation_failed"
) -> str:
    """Tell the matrix's `remediation_failed` target (once per incident and `code`)."""
    target = rt.policy.escalation.remediation_failed
    escalation = Action(
        type=ActionType.escalate,
        target=target.value,
        reason=f"automated remediation failed: {what} on {incident.model_name}: {why}",
        params=EscalateParams(reason_code=code).wire(),
    )
    result = messaging.escalate(rt, incident, escalation, None)
    return f"escalated to {target.value} ({result.status})"


def hand_over(rt: Runtime, incident_id: str) -> None:
    """A person owns the incident now (CONTRACT.md `escalated`); a resolved one stays so."""
    with rt.state.begin() as conn:
        store_incidents.set_status(conn, incident_id, IncidentStatus.escalated)
    store_incidents.mirror(rt.monitoring, rt.state, incident_id)


def _settle_ledger(rt: Runtime, key: str, status: str, detail: str) -> None:
    """A queued retrain's ledger entry, once its job started (or failed to)."""
    with rt.state.begin() as conn:
        entry = ledger.get(conn, key) if key else None
        if entry is None or entry["status"] != "queued":
            return
        stored = json.loads(entry["result"]) if entry.get("result") else None
        if stored is not None:
            stored.update(status=status, detail=detail)
        ledger.finish(conn, key=key, status=status, now=rt.now, result=stored, detail=detail)


def _note(rt: Runtime, incident: Incident, text: str) -> None:
    entry = TimelineEntry(phase="note", at=rt.now, note=text)
    with rt.state.begin() as conn:
        store_incidents.add_timeline(conn, incident.incident_id, [entry])


def _show_waiting(conn: sa.Connection, incident_id: str, text: str) -> None:
    """Add what the job waits for to the incident's `waiting_detail` while it waits for
    recovery (what `agentops threads` shows)."""
    row = queries.get_incident_row(conn, incident_id)
    if not text or row is None or row.get("waiting_for") != "recovery":
        return
    detail = str(row.get("waiting_detail") or "")
    if text not in detail:
        shown = f"{detail}; {text}" if detail else text
        store_incidents.set_incident_fields(conn, incident_id, waiting_detail=shown)


def _hide_waiting(conn: sa.Connection, incident_id: str, text: str) -> None:
    row = queries.get_incident_row(conn, incident_id)
    detail = str((row or {}).get("waiting_detail") or "")
    if text and text in detail:
        shown = detail.replace(f"; {text}", "").replace(text, "").strip("; ")
        store_incidents.set_incident_fields(conn, incident_id, waiting_detail=shown or None)


def waiting_note(conn: sa.Connection, incident_id: str) -> str | None:
    """What the incident's retrain job waits for, if it waits (for `waiting_detail`)."""
    found = conn.execute(
        sa.select(retrain_jobs.c.waiting_for).where(
            retrain_jobs.c.incident_id == incident_id, retrain_jobs.c.status == "waiting"
        )
    ).scalar()
    return str(found) if found else None


def claim_start(conn: sa.Connection, job_id: str) -> bool:
    """Take a waiting job to `starting`; False when another worker did first."""
    return _claim(conn, job_id, ("waiting",), "starting")


def _claim(conn: sa.Connection, job_id: str, before: tuple[str, ...], after: str) -> bool:
    done = conn.execute(
        retrain_jobs.update()
        .where(retrain_jobs.c.job_id == job_id, retrain_jobs.c.status.in_(before))
        .values(status=after)
    )
    return done.rowcount == 1


def _set(rt: Runtime, job_id: str, status: str, detail: str, **values: Any) -> None:
    with rt.state.begin() as conn:
        executors.set_job_status(conn, job_id, status, detail=detail, **values)


def find_job(engine: sa.Engine, job_id: str) -> dict[str, Any] | None:
    """The job's row, or None (an incident's job is `job_id_for(incident_id)`)."""
    with engine.connect() as conn:
        found = (
            conn.execute(sa.select(retrain_jobs).where(retrain_jobs.c.job_id == job_id))
            .mappings()
            .first()
        )
    return queries.as_row(found) if found is not None else None


def _job(engine: sa.Engine, job_id: str) -> dict[str, Any]:
    found = find_job(engine, job_id)
    if found is None:
        raise DataError(f"no retraining job {job_id!r}")
    return found


def _spec(row: dict[str, Any]) -> dict[str, Any]:
    spec = json.loads(row.get("params") or "{}")
    return spec if isinstance(spec, dict) else {}


def _naive(value: datetime) -> datetime:
    return to_db_time(value, what="time")
