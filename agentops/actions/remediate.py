"""The approval-required actions through the ledger: rollback_model, retrain_model,
scale_infrastructure. `execute` has already checked the approver.

Each claims its ledger key in the state store and commits, then acts (the registry switch in
the monitoring database, a trigger), then finishes the entry; a crash in between leaves the
entry `started`, which a repeat reports as in doubt instead of acting twice.

A failure escalates to the matrix's `remediation_failed` target (ml_team_lead).
"""

from __future__ import annotations

from agentops.actions import executors, messaging
from agentops.actions.registry import (
    RollbackPlan,
    RollbackRefusal,
    TableRegistry,
    build_registry,
    execute_rollback,
    plan_rollback,
)
from agentops.actions.runtime import Runtime, replay
from agentops.domain import Action, ActionResult, ActionType, Incident
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


def _escalate_failure(rt: Runtime, incident: Incident, action: Action, why: str) -> str:
    target = rt.policy.escalation.remediation_failed
    escalation = Action(
        type=ActionType.escalate,
        target=target.value,
        reason=f"automated remediation failed: {action.type.value} on {action.target}: {why}",
        params={"reason_code": "remediation_failed"},
    )
    result = messaging.escalate(rt, incident, escalation, None)
    return f"escalated to {target.value} ({result.status})"


def rollback_model(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """Serve the previous version through the configured model registry (params.to_version
    if given; else the registry's history, else DEPLOYMENTS' previous_version), then read the
    serving version back through the same registry. The recovery check decides the rest."""
    key = action.key(incident.incident_id)
    with rt.state.begin() as conn:
        claim = ledger.claim_action(
            conn,
            action,
            incident.incident_id,
            now=rt.now,
            approved_by=approved_by,
            approved_via=rt.approved_via,
        )
    if not claim.fresh:
        return replay(claim.row, action, key)
    to_version = action.params.get("to_version")
    outcome = _roll_back(rt, incident, str(to_version) if to_version else None, approved_by)
    status = "succeeded" if outcome.ok else "failed"
    result = _result(rt, action, key, status, outcome.detail, approved_by)
    with rt.state.begin() as conn:
        ledger.finish(
            conn,
            key=key,
            status=status,
            now=rt.now,
            result={**result.model_dump(mode="json"), "data": outcome.data},
            detail=outcome.detail,
        )
    if outcome.ok:
        return result
    escalated = _escalate_failure(rt, incident, action, outcome.detail)
    return result.model_copy(update={"detail": f"{outcome.detail}; {escalated}"})


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
        registry = build_registry(
            cfg.registry,
            command=cfg.registry_command,
            webhook=cfg.registry_webhook,
            mlflow_uri=cfg.registry_mlflow_uri,
            alias=cfg.registry_alias,
            timeout_s=cfg.registry_timeout_s,
        )
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


def _claim_then_trigger(
    rt: Runtime,
    incident: Incident,
    action: Action,
    approved_by: str | None,
    *,
    command: str | None,
    webhook: str | None,
    record_job: bool,
) -> ActionResult:
    key = action.key(incident.incident_id)
    payload: dict[str, object] = {
        "incident_id": incident.incident_id,
        "model_name": incident.model_name,
        "action": action.type.value,
        "target": action.target,
        "params": action.params,
        "approved_by": approved_by,
    }
    with rt.state.begin() as conn:
        claim = ledger.claim_action(
            conn,
            action,
            incident.incident_id,
            now=rt.now,
            approved_by=approved_by,
            approved_via=rt.approved_via,
        )
        if not claim.fresh:
            return replay(claim.row, action, key)
        job = (
            executors.record_retrain_job(conn, incident, now=rt.now, params=action.params)
            if record_job
            else None
        )
    if job is not None:
        payload["job"] = job
    if command or webhook:
        outcome = executors.trigger(command, webhook, payload)
    elif record_job:
        outcome = executors.Outcome(
            True, "no AGENTOPS_RETRAIN_COMMAND or _WEBHOOK set: the job waits in RETRAIN_JOBS"
        )
    else:
        outcome = executors.Outcome(
            False,
            "no AGENTOPS_SCALE_COMMAND or AGENTOPS_SCALE_WEBHOOK set: nothing was scaled",
        )
    if job is not None:
        window = (
            f"job {job['job_id']} trains on {job['train_start']}..{job['train_end']} "
            f"excluding {job['excluded_start']}..{job['excluded_end']}"
        )
        detail = f"{window}; {outcome.detail}"
    else:
        detail = outcome.detail
    not_configured = not (command or webhook) and not record_job
    status = "skipped" if not_configured else ("succeeded" if outcome.ok else "failed")
    result = _result(rt, action, key, status, detail, approved_by)
    with rt.state.begin() as conn:
        if job is not None:
            job_status = "triggered" if (command or webhook) and outcome.ok else "recorded"
            executors.set_job_status(
                conn, str(job["job_id"]), job_status if outcome.ok else "failed"
            )
        ledger.finish(
            conn,
            key=key,
            status=status,
            now=rt.now,
            result={**result.model_dump(mode="json"), "data": {"job": job, **outcome.data}},
            detail=detail,
        )
    if status != "failed":
        return result
    escalated = _escalate_failure(rt, incident, action, outcome.detail)
    return result.model_copy(update={"detail": f"{detail}; {escalated}"})


def retrain_model(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """Record a retraining job whose window excludes the bad window, then trigger it.

    params: lookback_days (default 28), exclude_start / exclude_end (ISO-8601) to override
    the bad window taken from the incident's alerts.
    """
    return _claim_then_trigger(
        rt,
        incident,
        action,
        approved_by,
        command=rt.settings.retrain_command,
        webhook=rt.settings.retrain_webhook,
        record_job=True,
    )


def scale_infrastructure(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """Trigger the scale command or webhook with the action's params (e.g. replicas);
    `skipped` when neither is configured."""
    return _claim_then_trigger(
        rt,
        incident,
        action,
        approved_by,
        command=rt.settings.scale_command,
        webhook=rt.settings.scale_webhook,
        record_job=False,
    )
