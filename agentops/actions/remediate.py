"""The approval-required actions through the ledger: rollback_model, retrain_model,
scale_infrastructure. `execute` has already checked the approver.

- rollback_model: claim, switch MODEL_REGISTRY, verify and finish in ONE transaction, so a
  crash leaves either nothing done (and the claim rolled back) or everything done.
- retrain_model / scale_infrastructure: the claim (and the RETRAIN_JOBS row) commit first,
  then the trigger runs, then the entry is finished; a crash in between leaves the entry
  `started`, which a repeat reports as in doubt instead of triggering twice.

A failure escalates to the matrix's `remediation_failed` target (ml_team_lead).
"""

from __future__ import annotations

from agentops.actions import executors, messaging
from agentops.actions.runtime import Runtime, replay
from agentops.domain import Action, ActionResult, ActionType, Incident
from agentops.store import ledger


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
    )
    result = messaging.escalate(rt, incident, escalation, None)
    return f"escalated to {target.value} ({result.status})"


def rollback_model(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """Make the previous good version (params.to_version, if given) active, and verify it."""
    key = action.key(incident.incident_id)
    with rt.engine.begin() as conn:
        claim = ledger.claim_action(
            conn, action, incident.incident_id, now=rt.now, approved_by=approved_by
        )
        if not claim.fresh:
            return replay(claim.row, action, key)
        to_version = action.params.get("to_version")
        outcome = executors.rollback(
            conn,
            incident,
            now=rt.now,
            to_version=str(to_version) if to_version else None,
            approved_by=approved_by,
        )
        status = "succeeded" if outcome.ok else "failed"
        result = _result(rt, action, key, status, outcome.detail, approved_by)
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
    with rt.engine.begin() as conn:
        claim = ledger.claim_action(
            conn, action, incident.incident_id, now=rt.now, approved_by=approved_by
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
    with rt.engine.begin() as conn:
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
