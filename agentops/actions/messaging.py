"""The messaging actions: notify_slack, escalate, open_github_issue, log_metrics, and the
resolution / post-mortem messages the graph sends after remediation."""

from __future__ import annotations

from typing import Any

from agentops.actions import formats
from agentops.actions.outbox import OutgoingMessage
from agentops.actions.runtime import Runtime, replay, send_messages
from agentops.domain import (
    Action,
    ActionResult,
    ActionType,
    Alert,
    AlertType,
    EscalationTarget,
    Incident,
)
from agentops.store import ledger, queries


def notify_slack(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    channel = rt.policy.resolve_channel(action.target)
    alerts: list[Alert] = list(incident.alerts)
    if channel == rt.policy.data_alerts_channel:
        # #data-alerts is for data engineering: the data-quality part of the incident
        alerts = [a for a in alerts if a.type is AlertType.data_quality] or alerts
    text = formats.format_alert_message(
        incident, alerts, rt.diagnosis, top_drifted=rt.context.get("top_features")
    )
    key = action.key(incident.incident_id)
    message = OutgoingMessage(
        key, incident.incident_id, "slack", channel, text, meta={"ledger_key": key}
    )
    return send_messages(rt, incident, action, key, [message], approved_by=approved_by)


def escalation_messages(
    rt: Runtime, incident: Incident, target: EscalationTarget, key: str, reason: str
) -> tuple[list[OutgoingMessage], str]:
    """A Slack DM to the person (or, with no Slack user configured, a mention in the
    incident's #ml-alerts thread) plus an email for P1 incidents and management."""
    contact = rt.policy.contact(target)
    who = rt.policy.display_name(target)
    diagnosis = rt.diagnosis
    text = formats.format_escalation_message(
        incident,
        target,
        who=who,
        reason=reason,
        root_cause=diagnosis.root_cause if diagnosis else None,
    )
    meta = {"ledger_key": key, "escalation": target.value}
    notes = []
    if contact.slack:
        slack = OutgoingMessage(
            f"{key}#dm", incident.incident_id, "slack", contact.slack, text, meta=meta
        )
    else:
        notes.append(f"no Slack user for {target.value} (set contacts.{target.value}.slack)")
        slack = OutgoingMessage(
            f"{key}#dm",
            incident.incident_id,
            "slack",
            rt.policy.ml_alerts_channel,
            f"{text}\n(No Slack user is configured for {who}; set contacts.{target.value}.slack "
            "in the policy file.)",
            meta=meta,
        )
    out = [slack]
    if rt.policy.needs_email(target, incident.severity):
        if contact.email:
            subject = formats.escalation_subject(incident, who)
            out.append(
                OutgoingMessage(
                    f"{key}#email",
                    incident.incident_id,
                    "email",
                    contact.email,
                    text,
                    subject,
                    meta,
                )
            )
        else:
            notes.append(f"no email for {target.value} (set contacts.{target.value}.email)")
    return out, "; ".join(notes)


MATRIX_REASON = {
    EscalationTarget.ml_team_lead: "automated remediation failed or needs a decision",
    EscalationTarget.engineering_manager: "P1 unresolved for more than an hour",
    EscalationTarget.data_engineering_lead: "the data issue comes from upstream",
    EscalationTarget.platform_engineering: "infrastructure issue",
    EscalationTarget.security_team: "security concern (possible adversarial traffic)",
}


def escalate(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    target = EscalationTarget(action.target)
    key = action.key(incident.incident_id)
    reason = action.reason or MATRIX_REASON[target]
    outgoing, note = escalation_messages(rt, incident, target, key, reason)
    return send_messages(rt, incident, action, key, outgoing, approved_by=approved_by, note=note)


def open_github_issue(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    key = action.key(incident.incident_id)
    diagnosis = rt.diagnosis
    category = diagnosis.category.value if diagnosis else incident.root_cause_category
    message = OutgoingMessage(
        key,
        incident.incident_id,
        "github",
        rt.settings.github_repo or action.target,
        formats.github_body(incident, diagnosis),
        formats.github_title(incident),
        {"ledger_key": key, "labels": formats.github_labels(incident, category)},
    )
    return send_messages(rt, incident, action, key, [message], approved_by=approved_by)


def log_metrics(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """Record the incident's metrics snapshot in the ledger (no outside call)."""
    key = action.key(incident.incident_id)
    with rt.engine.begin() as conn:
        claim = ledger.claim_action(
            conn, action, incident.incident_id, now=rt.now, approved_by=approved_by
        )
        if not claim.fresh:
            return replay(claim.row, action, key)
        latest = queries.latest_complete_windows(conn, rt.now, incident.model_name)
        window: dict[str, Any] = dict(latest[0]) if latest else {}
        snapshot: dict[str, Any] = {
            "alerts": [
                {
                    "type": a.type.value,
                    "component": a.component,
                    "metric": a.metric,
                    "value": a.value,
                }
                for a in incident.alerts
            ],
            "latest_window": window,
        }
        shown = ", ".join(
            f"{m}={formats.number(window[m])}"
            for m in ("f1", "precision", "recall", "error_rate", "latency_p99_ms")
            if window.get(m) is not None
        )
        detail = f"metrics snapshot of {incident.model_name}: {shown or 'no metrics window'}"
        result = ActionResult(
            action=action,
            status="succeeded",
            detail=detail,
            approved_by=approved_by,
            executed_at=rt.now,
            idempotency_key=key,
        )
        ledger.finish(
            conn,
            key=key,
            status="succeeded",
            now=rt.now,
            result={**result.model_dump(mode="json"), "snapshot": snapshot},
            detail=detail,
        )
    return result


def post_resolution(
    rt: Runtime, incident: Incident, *, root_cause: str, resolution: str
) -> ActionResult:
    """The runbook's resolution message in the incident's #ml-alerts thread (broadcast to
    the channel too), plus a stakeholder email to management for P1 incidents. Once."""
    channel = rt.policy.ml_alerts_channel
    action = Action(type=ActionType.notify_slack, target=channel, reason="resolution")
    key = f"{incident.incident_id}|post_resolution|{channel}"
    resolved_at = incident.resolved_at or rt.now
    text = formats.format_resolution_message(
        incident, root_cause=root_cause, resolution=resolution, resolved_at=resolved_at
    )
    meta = {"ledger_key": key, "broadcast": True}
    outgoing = [OutgoingMessage(key, incident.incident_id, "slack", channel, text, meta=meta)]
    note = ""
    manager = EscalationTarget.engineering_manager
    if incident.severity in rt.policy.escalation.email_severities:
        email = rt.policy.contact(manager).email
        if email:
            headline = text.splitlines()[0].split("] ", 1)[1]
            subject = f"[Resolved] {incident.incident_id}: {headline}"
            outgoing.append(
                OutgoingMessage(
                    f"{key}#email", incident.incident_id, "email", email, text, subject, meta
                )
            )
        else:
            note = f"no stakeholder email: set contacts.{manager.value}.email"
    return send_messages(rt, incident, action, key, outgoing, note=note)


def publish_postmortem(rt: Runtime, incident: Incident, markdown: str) -> ActionResult:
    """Create the GitHub tracking issue with the post-mortem as its body, or update the one
    `open_github_issue` created. Once per incident."""
    repo = rt.settings.github_repo or "github"
    action = Action(type=ActionType.open_github_issue, target=repo, reason="post-mortem")
    key = f"{incident.incident_id}|publish_postmortem|github"
    title = formats.github_title(incident)
    if incident.resolved_at is not None:
        title = f"{title} (resolved)"
    labels = formats.github_labels(incident, incident.root_cause_category)
    message = OutgoingMessage(
        key,
        incident.incident_id,
        "github",
        repo,
        markdown,
        title,
        {"ledger_key": key, "labels": [*labels, "postmortem"]},
    )
    return send_messages(rt, incident, action, key, [message])
