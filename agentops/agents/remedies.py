"""The deterministic action plan for a diagnosis: the planner's fallback and its yardstick."""

from __future__ import annotations

from typing import Any

from agentops.agents.evidence import first_breach
from agentops.agents.policy import DATA_CATEGORIES, ESCALATIONS, PRIORITY_BASE, REMEDIES
from agentops.clock import iso, parse_instant
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
from agentops.settings import Settings

A = ActionType
C = RootCauseCategory
DEFAULT_ALERTS_CHANNEL = "#ml-alerts"
DEFAULT_DATA_CHANNEL = "#data-alerts"


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
    for remedy in sorted(REMEDIES[category]):
        actions.append(
            Action(
                type=remedy,
                target=model,
                reason=f"{category.value} remedy (CONTRACT.md): {diagnosis.root_cause}",
                priority=PRIORITY_BASE[remedy],
                params=remedy_params(
                    remedy, incident, category, evidence or [], cited=set(diagnosis.evidence_ids)
                ),
            )
        )
    return ActionPlan(actions=actions, planned_by="rules")


def remedy_params(
    action: ActionType,
    incident: Incident,
    category: RootCauseCategory,
    evidence: list[Evidence],
    *,
    cited: set[str] | None = None,
) -> dict[str, Any]:
    """Parameters code derives from the evidence: never taken from a model's say-so. The
    retraining window left out starts at the run the diagnosis cites as the change, when it
    cites one (another run's notes are not the change)."""
    if action == A.rollback_model:
        return _rollback_params(evidence, cited or set())
    if action == A.retrain_model:
        if category == C.concept_drift:
            # the world moved: train on recent data, which is the new normal
            return {"train_days": 30, "include_recent": True}
        start = first_breach(incident)
        runs = [e for e in evidence if e.kind == "pipeline_run" and "started_at" in e.data]
        named = [r for r in runs if r.id in (cited or set())]
        for item in named or runs:
            if named or item.data.get("status") != "success" or item.data.get("notes"):
                start = min(start, parse_instant(item.data["started_at"]))
        return {
            "train_days": 30,
            "exclude_start": iso(start),
            "exclude_end": iso(incident.opened_at),
            "note": "exclude the window affected by the upstream change",
        }
    if action == A.scale_infrastructure:
        return {"component": "serving", "direction": "up"}
    return {}


def _rollback_params(evidence: list[Evidence], cited: set[str]) -> dict[str, Any]:
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
        return {
            "from_version": d["model_version"],
            "to_version": d["previous_version"],
            "deployment_id": d["deployment_id"],
        }
    version = next((e for e in evidence if e.id == "metric:model_version"), None)
    if version is not None and version.data.get("changed"):
        return {"from_version": version.data["latest"], "to_version": version.data["baseline"]}
    return {}  # the executor then picks the previous good version from the registry
