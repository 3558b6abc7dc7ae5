"""The approval-required actions through the ledger: rollback_model, retrain_model,
scale_infrastructure. `execute` has already checked the approver.

Each claims its ledger key in the state store and commits, then acts (the registry switch,
a trigger), then finishes the entry; a crash in between leaves the entry `started`, which a
repeat reports as in doubt instead of acting twice. Each reads its parameters with its
`agentops.params` class, the one the planner wrote them with.

A retrain waiting for an upstream fix finishes `queued` (handed to its executor; the job
starts in a later pass, `actions.jobs`). A failure escalates to the matrix's
`remediation_failed` target (ml_team_lead).
"""

from __future__ import annotations

import sqlalchemy as sa

from agentops.actions import executors, jobs
from agentops.actions.registry import (
    RollbackPlan,
    RollbackRefusal,
    TableRegistry,
    execute_rollback,
    plan_rollback,
    registry_for,
)
from agentops.actions.runtime import Runtime, replay
from agentops.domain import Action, ActionResult, Incident
from agentops.params import RetrainParams, RollbackParams, ScaleParams
from agentops.store import ledger, writing


def _result(
    rt: Runtime, action: Action, key: str, status: str, detail: str, approved_by: str | None
) -> ActionResult:
    return ActionResult.model_validate(
        {
            "action": action,
            "status": status,
            "detail": detail,
            "approved_by": approved_by,
            "executed_at": rt.now,
            "idempotency_key": key,
        }
    )


def _claim(
    conn: sa.Connection, rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ledger.Claim:
    return ledger.claim_action(
        conn,
        action,
        incident.incident_id,
        now=rt.now,
        approved_by=approved_by,
        approved_via=rt.approved_via,
    )


def _settled(
    rt: Runtime,
    incident: Incident,
    action: Action,
    key: str,
    outcome: executors.Outcome,
    approved_by: str | None,
) -> ActionResult:
    """Record the outcome in the ledger; a failure escalates to the matrix's
    remediation_failed target, and the result says so."""
    status = "succeeded" if outcome.ok else "failed"
    result = _finish(rt, action, key, status, outcome.detail, approved_by, outcome.data)
    if outcome.ok:
        return result
    escalated = jobs.escalate_failure(rt, incident, action.type.value, outcome.detail)
    return result.model_copy(update={"detail": f"{outcome.detail}; {escalated}"})


def rollback_model(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """Serve the previous version through the configured model registry (params.to_version
    if given; else the registry's history, else DEPLOYMENTS' previous_version), then read the
    serving version back through the same registry. The recovery check decides the rest."""
    key = action.key(incident.incident_id)
    with rt.state.begin() as conn:
        claim = _claim(conn, rt, incident, action, approved_by)
    if not claim.fresh:
        return replay(claim.row, action, key)
    to_version = RollbackParams.of(action).to_version
    outcome = _roll_back(rt, incident, to_version, approved_by)
    return _settled(rt, incident, action, key, outcome, approved_by)


def _roll_back(
    rt: Runtime, incident: Incident, to_version: str | None, approved_by: str | None
) -> executors.Outcome:
    reason, actor = f"rollback for {incident.incident_id}", approved_by or "agentops"
    model = incident.model_name
    cfg = rt.settings
    if cfg.registry == "table":
        # one writer transaction: the switch, its DEPLOYMENTS row and the read-back together
        with writing(rt.monitoring) as conn:
            table = TableRegistry(conn, clock=lambda: rt.now)
            plan = plan_rollback(conn, table, model, to_version=to_version)
            done = (
                execute_rollback(table, plan, reason=reason, actor=actor)
                if isinstance(plan, RollbackPlan)
                else plan
            )
    else:  # outside any transaction: a slow registry holds no database lock
        registry = registry_for(cfg, engine=rt.monitoring, clock=lambda: rt.now)
        with rt.monitoring.connect() as conn:
            plan = plan_rollback(conn, registry, model, to_version=to_version)
        done = (
            execute_rollback(registry, plan, reason=reason, actor=actor)
            if isinstance(plan, RollbackPlan)
            else plan
        )
    if isinstance(done, RollbackRefusal):
        return executors.Outcome(False, done.reason)
    data = dict(done.data)
    if isinstance(plan, RollbackPlan):
        data["target_source"] = plan.target_source
    return executors.Outcome(done.ok, done.detail, data)


def retrain_model(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """Record the retraining job (RetrainParams: its window per cause, matured labels only,
    bad and poisoned windows left out) and start it, or queue it behind the upstream fix
    (mode after_upstream_fix: `queued` until `jobs.start_ready_jobs` sees the fix). The
    job's result, now or later, goes through the promotion gate (`actions.jobs`)."""
    key = action.key(incident.incident_id)
    params = RetrainParams.of(action)
    window = jobs.window_for(rt, incident, params)
    with rt.state.begin() as conn:
        claim = _claim(conn, rt, incident, action, approved_by)
        if not claim.fresh:
            return replay(claim.row, action, key)
        job = jobs.open_job(
            conn, rt, incident, params, window, ledger_key=key, approved_by=approved_by
        )
    job_id = str(job["job_id"])
    fix = None
    if job["status"] == "waiting":
        fix = jobs.confirmed_fix(rt.stores, job, rt.now)  # a person may have confirmed it
        with rt.state.begin() as conn:
            started = fix is not None and jobs.claim_start(conn, job_id)
        if not started:
            detail = f"queued: {job['waiting_for']}"
            return _finish(rt, action, key, "queued", detail, approved_by, {"job": job})
    outcome = jobs.start_job(rt, incident, job_id, fix)
    if fix is not None:
        outcome = executors.Outcome(
            outcome.ok, f"upstream fix confirmed ({fix.by}); {outcome.detail}", outcome.data
        )
    return _settled(rt, incident, action, key, outcome, approved_by)


def scale_infrastructure(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """Trigger the scale command or webhook with the action's ScaleParams (e.g. replicas);
    `skipped` when neither is configured."""
    key = action.key(incident.incident_id)
    params = ScaleParams.of(action)
    command, webhook = rt.settings.scale_command, rt.settings.scale_webhook
    with rt.state.begin() as conn:
        claim = _claim(conn, rt, incident, action, approved_by)
        if not claim.fresh:
            return replay(claim.row, action, key)
    if not (command or webhook):
        detail = "no AGENTOPS_SCALE_COMMAND or AGENTOPS_SCALE_WEBHOOK set: nothing was scaled"
        return _finish(rt, action, key, "skipped", detail, approved_by, {})
    payload: dict[str, object] = {
        "incident_id": incident.incident_id,
        "model_name": incident.model_name,
        "action": action.type.value,
        "target": action.target,
        "params": params.wire(),
        "approved_by": approved_by,
    }
    outcome = executors.trigger(command, webhook, payload)
    return _settled(rt, incident, action, key, outcome, approved_by)


def _finish(
    rt: Runtime,
    action: Action,
    key: str,
    status: str,
    detail: str,
    approved_by: str | None,
    data: dict[str, object],
) -> ActionResult:
    result = _result(rt, action, key, status, detail, approved_by)
    with rt.state.begin() as conn:
        ledger.finish(
            conn,
            key=key,
            status=status,
            now=rt.now,
            result={**result.model_dump(mode="json"), "data": data},
            detail=detail,
        )
    return result
