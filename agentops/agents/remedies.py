"""The deterministic action plan for a diagnosis: the planner's fallback and its yardstick."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from agentops.actions.approval_facts import approval_facts
from agentops.agents.evidence import first_breach
from agentops.agents.policy import DATA_CATEGORIES, ESCALATIONS, PRIORITY_BASE, REMEDIES
from agentops.clock import parse_instant
from agentops.detection.thresholds import Thresholds, load_threshold_set
from agentops.domain import (
    Action,
    ActionPlan,
    ActionType,
    Diagnosis,
    Evidence,
    Incident,
    RootCauseCategory,
    Severity,
)
from agentops.errors import AgentOpsError
from agentops.params import NoParams, Params, RetrainParams, RollbackParams, ScaleParams
from agentops.settings import Settings
from agentops.store import open_monitoring

A = ActionType
C = RootCauseCategory
DEFAULT_ALERTS_CHANNEL = "#ml-alerts"
DEFAULT_DATA_CHANNEL = "#data-alerts"
LOOKBACK_DAYS = 28.0  # the retraining runbook's window
RECENT_DAYS = 7.0  # concept drift: the newest matured week is the new concept ...
RECENT_WEIGHT = 3.0  # ... weighted in three times
log = logging.getLogger("agentops.remedies")


def channels(settings: Settings | None) -> tuple[str, str]:
    """(alerts channel, data channel)."""
    if settings is None:
        return DEFAULT_ALERTS_CHANNEL, DEFAULT_DATA_CHANNEL
    return settings.slack_alerts_channel, settings.slack_data_channel


def plan_by_rules(
    incident: Incident,
    diagnosis: Diagnosis,
    *,
    evidence: list[Evidence] | None = None,
    settings: Settings | None = None,
) -> ActionPlan:
    """CONTRACT.md's remedy for the diagnosed category, in runbook order.

    Slack first for P1/P2 (and #data-alerts for data causes), then escalations, logging and
    the tracking issue, then the one approval-required remedy the category supports.
    """
    alerts_channel, data_channel = channels(settings)
    category = diagnosis.category
    model = incident.model_name
    headline = f"[{incident.severity.value}] {category.value} on {model}: {diagnosis.root_cause}"
    actions: list[Action] = [
        Action(
            type=A.notify_slack,
            target=alerts_channel,
            reason=headline if category != C.benign else f"notice: {headline}",
            priority=PRIORITY_BASE[A.notify_slack],
        )
    ]
    if category in DATA_CATEGORIES:
        actions.append(
            Action(
                type=A.notify_slack,
                target=data_channel,
                reason=f"data issue: {diagnosis.root_cause}",
                priority=PRIORITY_BASE[A.notify_slack] + 1,
            )
        )
    targets = list(dict.fromkeys([*ESCALATIONS[category], *diagnosis.escalate_to]))
    for i, target in enumerate(targets):
        actions.append(
            Action(
                type=A.escalate,
                target=target.value,
                reason=f"{category.value}: {diagnosis.root_cause}",
                priority=PRIORITY_BASE[A.escalate] + i,
            )
        )
    actions.append(
        Action(
            type=A.log_metrics,
            target=model,
            reason="record the incident's metrics for the post-mortem",
            priority=PRIORITY_BASE[A.log_metrics],
        )
    )
    if category != C.benign and incident.severity != Severity.P3:
        actions.append(
            Action(
                type=A.open_github_issue,
                target="github",
                reason="post-incident tracking",
                priority=PRIORITY_BASE[A.open_github_issue],
            )
        )
    limits = load_threshold_set(settings).for_model(model) if settings else Thresholds()
    for remedy in sorted(REMEDIES[category]):
        params = remedy_params(
            remedy,
            incident,
            category,
            evidence or [],
            cited=set(diagnosis.evidence_ids),
            label_delay_hours=limits.label_delay_hours,
        )
        actions.append(
            Action(
                type=remedy,
                target=model,
                reason=f"{category.value} remedy (CONTRACT.md): {diagnosis.root_cause}",
                priority=PRIORITY_BASE[remedy],
                params=params.wire(),
            )
        )
    return ActionPlan(actions=with_facts(actions, incident, settings, limits), planned_by="rules")


def with_facts(
    actions: list[Action], incident: Incident, settings: Settings | None, limits: Thresholds
) -> list[Action]:
    """Each approval-required action with what its approver weighs, read from the
    monitoring tables as of the incident's detection (`actions.approval_facts`). Without
    settings (tests, replays of the rules alone) or a readable database, none: the request
    then says only what runs."""
    if settings is None or not any(a.requires_approval for a in actions):
        return actions
    try:
        engine = open_monitoring(settings.resolved_database_url)
    except (AgentOpsError, sa.exc.SQLAlchemyError) as exc:
        log.warning("%s: no approval facts: %s", incident.incident_id, exc)
        return actions
    try:
        with engine.connect() as conn:
            return [
                a.model_copy(
                    update={
                        "facts": approval_facts(
                            conn, incident, a, now=incident.opened_at, thresholds=limits
                        )
                    }
                )
                if a.requires_approval
                else a
                for a in actions
            ]
    except sa.exc.SQLAlchemyError as exc:
        log.warning("%s: no approval facts: %s", incident.incident_id, exc)
        return actions
    finally:
        engine.dispose()


def remedy_params(
    action: ActionType,
    incident: Incident,
    category: RootCauseCategory,
    evidence: list[Evidence],
    *,
    cited: set[str] | None = None,
    label_delay_hours: float = 0.0,
) -> Params:
    """Parameters code derives from the evidence, never from a model's say-so, per cause:

    - rollback: back from the release the diagnosis blames to its previous version;
    - retrain, concept drift: the recent matured data is the new normal, weighted in;
    - retrain, upstream change: after the pipeline fix, leaving out the malformed data from
      the run the diagnosis cites as the change (another run's notes are not the change);
    - retrain, anything else (adversarial, damaged data): never the bad window;
    - scale: the serving fleet up.
    Every retrain trains only on labels older than the model's `label_delay`."""
    if action == A.rollback_model:
        return _rollback_params(evidence, cited or set())
    if action == A.retrain_model:
        return _retrain_params(incident, category, evidence, cited or set(), label_delay_hours)
    if action == A.scale_infrastructure:
        return ScaleParams(component="serving", direction="up")
    return NoParams()


def _retrain_params(
    incident: Incident,
    category: RootCauseCategory,
    evidence: list[Evidence],
    cited: set[str],
    label_delay_hours: float,
) -> RetrainParams:
    start = first_breach(incident)
    if category == C.concept_drift:
        return RetrainParams(
            mode="recent_weighted",
            lookback_days=LOOKBACK_DAYS,
            label_delay_hours=label_delay_hours,
            recent_days=RECENT_DAYS,
            recent_weight=RECENT_WEIGHT,
        )
    if category != C.upstream_data_change:
        last = max((a.window_end for a in incident.alerts), default=incident.opened_at)
        return RetrainParams(
            mode="exclude_bad_window",
            lookback_days=LOOKBACK_DAYS,
            exclude_start=start,
            exclude_end=max(last, incident.opened_at),
            label_delay_hours=label_delay_hours,
        )
    runs = [e for e in evidence if e.kind == "pipeline_run" and "started_at" in e.data]
    named = [r for r in runs if r.id in cited]
    changes = [
        r
        for r in named or runs
        if named or r.data.get("status") != "success" or r.data.get("notes")
    ]
    changes.sort(key=lambda r: parse_instant(r.data["started_at"]))
    if changes:
        start = min(start, parse_instant(changes[0].data["started_at"]))
    # the fix is the next successful run of the pipeline that brought the change
    pipeline = changes[0].data.get("pipeline_name") if changes else None
    return RetrainParams(
        mode="after_upstream_fix",
        lookback_days=LOOKBACK_DAYS,
        exclude_start=start,
        label_delay_hours=label_delay_hours,
        pipeline=str(pipeline) if pipeline else None,
    )


def _rollback_params(evidence: list[Evidence], cited: set[str]) -> RollbackParams:
    """Back from the release the diagnosis blames, else from the latest one released before
    the degradation began (one released after it cannot have caused it)."""
    deploys = [
        e
        for e in evidence
        if e.kind == "deployment" and "model_version" in e.data and not e.data.get("after_onset")
    ]
    deploys.sort(key=lambda e: (e.id not in cited, e.data.get("hours_before_onset") or 0.0))
    if deploys and deploys[0].data.get("previous_version"):
        d = deploys[0].data
        return RollbackParams(
            from_version=str(d["model_version"]),
            to_version=str(d["previous_version"]),
            deployment_id=str(d["deployment_id"]),
        )
    version = next((e for e in evidence if e.id == "metric:model_version"), None)
    if version is not None and version.data.get("changed"):
        return RollbackParams(
            from_version=str(version.data["latest"]), to_version=str(version.data["baseline"])
        )
    return RollbackParams()  # the executor then picks the previous good version
