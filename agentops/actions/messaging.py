"""The messaging actions: notify_slack, escalate, open_github_issue, log_metrics, and the
resolution / post-mortem messages the graph sends after remediation."""

from __future__ import annotations

from typing import Any

from agentops.actions import formats
from agentops.actions.outbox import OutgoingMessage, thread_root
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


def page(rt: Runtime, incident: Incident) -> ActionResult:
    """The alert at detection, before any model is asked anything: the seed's format ending
    "Investigating automatically...", in #ml-alerts. It opens the incident's Slack thread;
    findings, the plan, approvals, escalations and the resolution follow as replies. Once
    per incident (and again only for a reopened one)."""
    channel = rt.policy.ml_alerts_channel
    action = Action(type=ActionType.notify_slack, target=channel, reason="page at detection")
    key = f"{incident.incident_id}|page|{channel}"
    if incident.parent_id:  # the storm's page named this model already: nothing to send
        return send_messages(rt, incident, action, key, [], note="paged with its storm")
    text = formats.format_alert_message(incident, incident.alerts)
    meta = {"ledger_key": key, "blocks": incident_control_blocks(text, incident.incident_id)}
    message = OutgoingMessage(key, incident.incident_id, "slack", channel, text, meta=meta)
    return send_messages(rt, incident, action, key, [message])


def reply(rt: Runtime, incident: Incident, kind: str, text: str) -> ActionResult:
    """One reply in the incident's #ml-alerts thread (`kind` names it in the ledger); a
    storm's incident replies in the storm's thread."""
    channel = rt.policy.ml_alerts_channel
    action = Action(type=ActionType.notify_slack, target=channel, reason=kind)
    key = f"{incident.incident_id}|reply|{kind}"
    meta: dict[str, Any] = {"ledger_key": key}
    if incident.parent_id:
        meta["thread_incident"] = incident.parent_id
        text = f"{incident.model_name} ({incident.incident_id}): {text}"
    message = OutgoingMessage(key, incident.incident_id, "slack", channel, text, meta=meta)
    return send_messages(rt, incident, action, key, [message])


def page_storm(rt: Runtime, parent: Incident, members: list[Incident], cause: str) -> ActionResult:
    """One page for a storm: the cause and the affected models, opening the thread its
    models' incidents reply in."""
    channel = rt.policy.ml_alerts_channel
    action = Action(type=ActionType.notify_slack, target=channel, reason="storm page")
    key = f"{parent.incident_id}|page|{channel}"
    text = formats.format_storm_page(parent, members, cause)
    message = OutgoingMessage(
        key, parent.incident_id, "slack", channel, text, meta={"ledger_key": key}
    )
    return send_messages(rt, parent, action, key, [message])


def notify_slack(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """The plan's notification. In a channel that already holds the incident's thread (the
    page), a reply with the diagnosis and the plan; elsewhere the alert, with the suspected
    root cause (#data-alerts gets the data-quality part)."""
    channel = rt.policy.resolve_channel(action.target)
    alerts: list[Alert] = list(incident.alerts)
    if channel == rt.policy.data_alerts_channel:
        # #data-alerts is for data engineering: the data-quality part of the incident
        alerts = [a for a in alerts if a.type is AlertType.data_quality] or alerts
    with rt.state.connect() as conn:
        owner = incident.parent_id or incident.incident_id
        threaded = thread_root(conn, owner, channel) is not None
    diagnosis = rt.diagnosis
    if threaded and diagnosis is not None:
        # the investigation's finding is in the thread already: the plan is what is new
        steps = rt.context.get("plan_steps") or []
        if steps:
            text = formats.format_plan(incident, [tuple(s) for s in steps])
        else:
            text = formats.format_finding(incident, diagnosis, "investigate")
    else:
        text = formats.format_alert_message(
            incident, alerts, diagnosis, top_drifted=rt.context.get("top_features")
        )
    key = action.key(incident.incident_id)
    message = OutgoingMessage(
        key, incident.incident_id, "slack", channel, text, meta={"ledger_key": key}
    )
    return send_messages(rt, incident, action, key, [message], approved_by=approved_by)


def escalation_messages(
    rt: Runtime, incident: Incident, target: EscalationTarget, key: str, reason: str
) -> tuple[list[OutgoingMessage], str]:
    """A Slack DM to each person holding the role (or a post in the role's channel); an
    email to those without Slack, and for P1 incidents and management; with nobody
    reachable on Slack, a post in the incident's #ml-alerts thread saying who must be told."""
    recipients = rt.policy.recipients(target)
    channel = rt.policy.role_channel(target)
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
    notes: list[str] = []
    out: list[OutgoingMessage] = []
    emailed: set[str] = set()
    wants_email = rt.policy.needs_email(target, incident.severity)

    def email(address: str, suffix: str) -> None:
        if address in emailed:
            return
        emailed.add(address)
        subject = formats.escalation_subject(incident, who)
        out.append(
            OutgoingMessage(
                f"{key}#email:{suffix}", incident.incident_id, "email", address, text, subject, meta
            )
        )

    for name, contact in recipients:
        if contact.slack:
            out.append(
                OutgoingMessage(
                    f"{key}#dm:{name}",
                    incident.incident_id,
                    "slack",
                    contact.slack,
                    text,
                    meta=meta,
                )
            )
        if contact.email and (wants_email or not contact.slack):
            email(contact.email, name)
    if channel is not None and channel.slack:
        out.append(
            OutgoingMessage(
                f"{key}#channel", incident.incident_id, "slack", channel.slack, text, meta=meta
            )
        )
    if channel is not None and channel.email and wants_email:
        email(channel.email, "channel")
    if not any(m.channel == "slack" for m in out):
        missing = (
            f"nobody holds {target.value} (set roles.{target.value} in the policy file)"
            if not recipients and channel is None
            else f"no Slack user for {who} (set contacts.<name>.slack)"
        )
        notes.append(missing)
        out.append(
            OutgoingMessage(
                f"{key}#dm",
                incident.incident_id,
                "slack",
                rt.policy.ml_alerts_channel,
                f"{text}\n(Needs {who}: {missing}; please tell them.)",
                meta=meta,
            )
        )
    if wants_email and not emailed:
        notes.append(f"no email for {target.value}")
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
    # a storm's incidents tell a person once per reason for the whole storm
    key = action.key(incident.parent_id or incident.incident_id)
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
    with rt.monitoring.connect() as conn:
        latest = queries.latest_complete_windows(conn, rt.now, incident.model_name)
    with rt.state.begin() as conn:
        claim = ledger.claim_action(
            conn, action, incident.incident_id, now=rt.now, approved_by=approved_by
        )
        if not claim.fresh:
            return replay(claim.row, action, key)
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


APPROVE_ACTION_ID = "agentops_approve"
REJECT_ACTION_ID = "agentops_reject"


def approval_blocks(text: str, action_key: str) -> list[dict[str, Any]]:
    """Block Kit: the request, then Approve / Reject buttons whose value is the ledger key
    of the action (it names the incident), answered at `POST /slack/interactions`."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
        {
            "type": "actions",
            "block_id": "agentops_approval",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "action_id": APPROVE_ACTION_ID,
                    "value": action_key,
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "style": "danger",
                    "action_id": REJECT_ACTION_ID,
                    "value": action_key,
                },
            ],
        },
    ]


def approval_request(
    rt: Runtime,
    incident: Incident,
    action: Action,
    payload: dict[str, Any],
    approvers: tuple[str, ...],
) -> ActionResult:
    """The approval request in the incident's #ml-alerts thread and as a DM to each approver
    with a Slack user, with Approve / Reject buttons. Once per action."""
    key = action.key(incident.incident_id)
    ledger_key = f"{key}|approval_request"
    text = formats.format_approval_request(incident, action, payload)
    meta = {"ledger_key": ledger_key, "blocks": approval_blocks(text, key), "approval": key}
    channel = rt.policy.ml_alerts_channel
    outgoing = [
        OutgoingMessage(ledger_key, incident.incident_id, "slack", channel, text, meta=meta)
    ]
    for name in approvers:
        contact = rt.policy.people.contact(name)
        if contact.slack:
            outgoing.append(
                OutgoingMessage(
                    f"{ledger_key}#dm:{name}",
                    incident.incident_id,
                    "slack",
                    contact.slack,
                    text,
                    meta=meta,
                )
            )
    notice = Action(type=ActionType.notify_slack, target=channel, reason="approval request")
    return send_messages(rt, incident, notice, ledger_key, outgoing)


# ---- the page's buttons: a person takes the incident, or confirms the upstream fix -----------
ACK_ACTION_ID = "agentops_ack"
CONFIRM_FIX_ACTION_ID = "agentops_confirm_fix"


def incident_control_blocks(text: str, incident_id: str) -> list[dict[str, Any]]:
    """Block Kit for the page: the alert, then Acknowledge (take ownership) and Upstream
    fix confirmed buttons whose value is the incident id (`POST /slack/interactions`)."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
        {
            "type": "actions",
            "block_id": "agentops_controls",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Acknowledge"},
                    "action_id": ACK_ACTION_ID,
                    "value": incident_id,
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Upstream fix confirmed"},
                    "action_id": CONFIRM_FIX_ACTION_ID,
                    "value": incident_id,
                },
            ],
        },
    ]
