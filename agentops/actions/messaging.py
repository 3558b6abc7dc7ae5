"""The messaging actions: notify_slack, escalate, open_github_issue, log_metrics, and the
page, replies, resolution and post-mortem messages the graph sends around them.

Routing follows the runbook's channel table, per model (`Policy.alerts_channel`,
`data_channel`: a fleet's teams have their own):
- P1/P2 alerts, the incident's thread and its resolution in the alerts channel; a data
  issue (data-quality alerts, a data cause) also in the data channel.
- A P3 event is a quiet notice (`notices.py`), never a page.
- A security incident (category adversarial) is told in detail to the security team only;
  every public text is neutral.
- An escalation goes to each person holding the role: a Slack DM, an email when they have no
  Slack user (and for P1 and management); when nobody can be reached, a note in the
  incident's thread says who must be told.
- Every Slack message of a P1 carries its email fallback (`meta.fallback_email`): when Slack
  cannot take it, `deliver.py` sends it to the channel's owners by email.
"""

from __future__ import annotations

from typing import Any

from agentops.actions import formats, github_email, notices, wording
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
    RootCauseCategory,
    Severity,
)
from agentops.store import ledger, queries


# ---- where a post goes -------------------------------------------------------------------------
def _fallback(rt: Runtime, incident: Incident, channel: str) -> dict[str, Any]:
    """A P1 channel post's email fallback: the channel's owners (its role's people)."""
    if incident.severity is not Severity.P1:
        return {}
    owner = rt.policy.channel_owner(channel, incident.model_name)
    return {
        "severity": incident.severity.value,
        "fallback_email": rt.policy.emails(owner, incident.model_name),
        "fallback_role": owner.value,
    }


def channel_post(
    rt: Runtime,
    incident: Incident,
    message_id: str,
    channel: str,
    text: str,
    meta: dict[str, Any] | None = None,
) -> tuple[list[OutgoingMessage], str]:
    """The incident's post in `channel`, routed: a P3's goes quietly (the day's notices
    thread, or held for the digest); a P1's carries its email fallback. Returns the messages
    to enqueue and a note for the ledger."""
    meta = {**(meta or {}), **_fallback(rt, incident, channel)}
    if notices.is_quiet(rt, incident, channel):
        if rt.policy.notices == "digest":
            return [], "P3 notice held for the daily digest (channels.notices: digest)"
        meta["thread_incident"] = notices.open_thread(rt, incident.opened_at.date(), channel)
        meta.pop("broadcast", None)
    return [
        OutgoingMessage(message_id, incident.incident_id, "slack", channel, text, meta=meta)
    ], ""


def _security(rt: Runtime, incident: Incident) -> bool:
    return formats.is_security(incident, rt.diagnosis)


# ---- the page and the thread -------------------------------------------------------------------
def page(rt: Runtime, incident: Incident) -> ActionResult:
    """The alert at detection, before any model is asked anything: the seed's format ending
    "Investigating automatically...", in the model's alerts channel, where it opens the
    incident's thread (findings, plan, approvals and the resolution reply in it). Its
    data-quality breaches also page the data channel. A P3 is a quiet notice. Once per
    incident (and again only for a reopened one)."""
    channel = rt.policy.alerts_channel(incident.model_name)
    action = Action(type=ActionType.notify_slack, target=channel, reason="page at detection")
    key = f"{incident.incident_id}|page|{channel}"
    if incident.parent_id:  # the storm's page named this model already: nothing to send
        return send_messages(rt, incident, action, key, [], note="paged with its storm")
    text = formats.format_alert_message(incident, incident.alerts)
    meta: dict[str, Any] = {"ledger_key": key}
    if incident.severity is not Severity.P3:
        meta["blocks"] = incident_control_blocks(text, incident.incident_id)
    outgoing, note = channel_post(rt, incident, key, channel, text, meta)
    data = [a for a in incident.alerts if a.type is AlertType.data_quality]
    data_channel = rt.policy.data_channel(incident.model_name)
    if data and incident.severity is not Severity.P3 and data_channel != channel:
        data_text = formats.format_alert_message(incident, data)
        more, _ = channel_post(
            rt, incident, f"{key}#data", data_channel, data_text, {"ledger_key": key}
        )
        outgoing += more
    return send_messages(rt, incident, action, key, outgoing, note=note)


def reply(rt: Runtime, incident: Incident, kind: str, text: str) -> ActionResult:
    """One reply in the incident's thread in its alerts channel (`kind` names it in the
    ledger); a storm's incident replies in the storm's thread, a P3's quietly."""
    channel = rt.policy.alerts_channel(incident.model_name)
    action = Action(type=ActionType.notify_slack, target=channel, reason=kind)
    key = f"{incident.incident_id}|reply|{kind}"
    meta: dict[str, Any] = {"ledger_key": key}
    if incident.parent_id:
        meta["thread_incident"] = incident.parent_id
    if incident.parent_id or notices.is_quiet(rt, incident, channel):  # a shared thread
        text = f"{incident.model_name} ({incident.incident_id}): {text}"
    text = wording.fit(text, "reply")
    outgoing, note = channel_post(rt, incident, key, channel, text, meta)
    return send_messages(rt, incident, action, key, outgoing, note=note)


def page_storm(rt: Runtime, parent: Incident, members: list[Incident], cause: str) -> ActionResult:
    """One page for a storm: the cause and the affected models, opening the thread its
    models' incidents reply in."""
    channel = rt.policy.alerts_channel(members[0].model_name if members else None)
    action = Action(type=ActionType.notify_slack, target=channel, reason="storm page")
    key = f"{parent.incident_id}|page|{channel}"
    text = formats.format_storm_page(parent, members, cause)
    outgoing, note = channel_post(rt, parent, key, channel, text, {"ledger_key": key})
    return send_messages(rt, parent, action, key, outgoing, note=note)


def notify_slack(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """The plan's notification. In a channel that already holds the incident's thread, a
    reply with the plan (and the suspected cause's headline where the investigation's
    finding was not posted); elsewhere the alert with that headline (the data channel gets
    the data-quality part). A security incident's is the neutral notice."""
    model = incident.model_name
    channel = rt.policy.resolve_channel(action.target, model)
    alerts: list[Alert] = list(incident.alerts)
    if channel == rt.policy.data_channel(model):
        # the data channel is for data engineering: the data-quality part of the incident
        alerts = [a for a in alerts if a.type is AlertType.data_quality] or alerts
    with rt.state.connect() as conn:
        owner = incident.parent_id or incident.incident_id
        if notices.is_quiet(rt, incident, channel):
            owner = notices.notices_id(incident.opened_at.date())
        threaded = thread_root(conn, owner, channel) is not None
    diagnosis = rt.diagnosis
    steps = [tuple(s) for s in rt.context.get("plan_steps") or []]
    if threaded and diagnosis is not None and steps:
        elsewhere = channel != rt.policy.alerts_channel(model) and not _security(rt, incident)
        cause = wording.headline_of(diagnosis) if elsewhere else None
        text = formats.format_plan(incident, steps, cause=cause)
    elif threaded and diagnosis is not None:
        text = formats.format_finding(incident, diagnosis, "investigate")
    else:
        text = formats.format_alert_message(
            incident, alerts, diagnosis, top_drifted=rt.context.get("top_features")
        )
    key = action.key(incident.incident_id)
    outgoing, note = channel_post(rt, incident, key, channel, text, {"ledger_key": key})
    return send_messages(rt, incident, action, key, outgoing, approved_by=approved_by, note=note)


# ---- escalations -------------------------------------------------------------------------------
MATRIX_REASON = {
    EscalationTarget.ml_team_lead: "automated remediation failed or needs a decision",
    EscalationTarget.engineering_manager: "P1 unresolved for more than an hour",
    EscalationTarget.data_engineering_lead: "the data issue comes from upstream",
    EscalationTarget.platform_engineering: "infrastructure issue",
    EscalationTarget.security_team: "security concern (possible adversarial traffic)",
}
# Why the plan hands a category's incident to a role (the matrix's line for it).
CATEGORY_REASON = {
    RootCauseCategory.upstream_data_change: "the data issue comes from upstream",
    RootCauseCategory.pipeline_failure: "a pipeline run failed or was partial: the data "
    "must be fixed",
    RootCauseCategory.infrastructure: "infrastructure issue: serving degraded with model "
    "and data unchanged",
    RootCauseCategory.adversarial: "security concern (possible adversarial traffic)",
    RootCauseCategory.unknown: "the evidence fits no cause well enough: a person decides",
}


def escalation_reason(rt: Runtime, target: EscalationTarget, action: Action) -> str:
    """Why this person is told, in one line: the escalation's own words when it has a reason
    code (an SLA breach, a rejected or failed remedy: specific), else the matrix's line for
    the diagnosed cause (a plan's escalation: its reason only repeats the root cause)."""
    if action.params.get("reason_code") and action.reason:
        return action.reason
    diagnosis = rt.diagnosis
    if diagnosis is not None and diagnosis.category in CATEGORY_REASON:
        return CATEGORY_REASON[diagnosis.category]
    return MATRIX_REASON[target]


def escalation_messages(
    rt: Runtime, incident: Incident, target: EscalationTarget, key: str, reason: str
) -> tuple[list[OutgoingMessage], str]:
    """A Slack DM to each person holding the role (or a post in the role's channel); an
    email to those without a Slack user, and for P1 incidents and management; with nobody
    reachable at all, a note in the incident's thread saying who must be told. A security
    incident's details go to the security team only."""
    model = incident.model_name
    recipients = rt.policy.recipients(target, model)
    channel = rt.policy.role_channel(target, model)
    who = rt.policy.display_name(target, model)
    security = _security(rt, incident)
    restricted = security and target is not EscalationTarget.security_team
    diagnosis = rt.diagnosis
    cause = (
        f"details are {wording.RESTRICTED}"
        if restricted
        else (wording.headline_of(diagnosis) if diagnosis else incident.root_cause)
    )
    text = formats.format_escalation_message(
        incident, target, who=who, reason=reason, root_cause=cause
    )
    meta: dict[str, Any] = {"ledger_key": key, "escalation": target.value}
    out: list[OutgoingMessage] = []
    emailed: set[str] = set()
    wants_email = rt.policy.needs_email(target, incident.severity)
    subject = github_email.escalation_subject(incident, who, security=restricted)

    def email(address: str, suffix: str) -> None:
        if address in emailed:
            return
        emailed.add(address)
        out.append(
            OutgoingMessage(
                f"{key}#email:{suffix}", incident.incident_id, "email", address, text, subject, meta
            )
        )

    for name, contact in recipients:
        if contact.slack:
            dm_meta = dict(meta)
            if incident.severity is Severity.P1 and contact.email and not wants_email:
                dm_meta.update(severity="P1", fallback_email=[contact.email], fallback_role=name)
            out.append(
                OutgoingMessage(
                    f"{key}#dm:{name}",
                    incident.incident_id,
                    "slack",
                    contact.slack,
                    text,
                    meta=dm_meta,
                )
            )
        if contact.email and (wants_email or not contact.slack):
            email(contact.email, name)
    if channel is not None and channel.slack:
        role_meta = dict(meta)
        if incident.severity is Severity.P1:  # Slack failing: the role's own addresses
            addresses = [channel.email] if channel.email else []
            role_meta.update(severity="P1", fallback_email=addresses, fallback_role=target.value)
        out.append(
            OutgoingMessage(
                f"{key}#channel", incident.incident_id, "slack", channel.slack, text, meta=role_meta
            )
        )
    if channel is not None and channel.email and (wants_email or not out):
        email(channel.email, "channel")
    notes: list[str] = []
    if not out:
        missing = (
            f"nobody holds {target.value} (set roles.{target.value} in the policy file)"
            if not recipients and channel is None
            else f"no Slack user or email for {who} (set contacts.<name>.slack or .email)"
        )
        notes.append(missing)
        alerts = rt.policy.alerts_channel(model)
        note = formats.format_unreachable(
            incident, who=who, missing=missing, reason=reason, security=security
        )
        posted, held = channel_post(rt, incident, f"{key}#dm", alerts, note, meta)
        out += posted
        notes += [held] if held else []
    elif not any(m.channel == "slack" for m in out):
        notes.append(f"{who}: no Slack user, told by email")
    if wants_email and not emailed:
        notes.append(f"no email for {target.value}")
    return out, "; ".join(notes)


def escalate(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """Tell the role's people, once per person and reason (the ledger key carries the
    reason code); a storm's incidents tell a person once per reason for the whole storm."""
    target = EscalationTarget(action.target)
    key = action.key(incident.parent_id or incident.incident_id)
    reason = escalation_reason(rt, target, action)
    outgoing, note = escalation_messages(rt, incident, target, key, reason)
    return send_messages(rt, incident, action, key, outgoing, approved_by=approved_by, note=note)


# ---- GitHub and the metrics snapshot -----------------------------------------------------------
def open_github_issue(
    rt: Runtime, incident: Incident, action: Action, approved_by: str | None
) -> ActionResult:
    """The tracking issue (a security incident's is neutral: no category label, no
    details)."""
    key = action.key(incident.incident_id)
    diagnosis = rt.diagnosis
    category = diagnosis.category.value if diagnosis else incident.root_cause_category
    security = _security(rt, incident)
    message = OutgoingMessage(
        key,
        incident.incident_id,
        "github",
        rt.settings.github_repo or action.target,
        github_email.github_body(incident, diagnosis),
        github_email.github_title(incident, security=security),
        {"ledger_key": key, "labels": github_email.github_labels(incident, category)},
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
            f"{m}={wording.number(window[m])}"
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


# ---- closing -----------------------------------------------------------------------------------
def post_resolution(
    rt: Runtime, incident: Incident, *, root_cause: str, resolution: str
) -> ActionResult:
    """The runbook's resolution message in the incident's thread (broadcast to the channel
    too; a P3's stays quiet), plus a stakeholder email to management for P1. Once."""
    channel = rt.policy.alerts_channel(incident.model_name)
    action = Action(type=ActionType.notify_slack, target=channel, reason="resolution")
    key = f"{incident.incident_id}|post_resolution|{channel}"
    resolved_at = incident.resolved_at or rt.now
    text = formats.format_resolution_message(
        incident,
        root_cause=root_cause,
        resolution=resolution,
        resolved_at=resolved_at,
        security=_security(rt, incident),
    )
    outgoing, note = channel_post(
        rt, incident, key, channel, text, {"ledger_key": key, "broadcast": True}
    )
    manager = EscalationTarget.engineering_manager
    if incident.severity in rt.policy.escalation.email_severities:
        addresses = rt.policy.emails(manager, incident.model_name)
        if addresses:
            headline = text.splitlines()[0].split("] ", 1)[1]
            subject = f"[Resolved] {incident.incident_id}: {headline}"
            for i, address in enumerate(addresses):
                outgoing.append(
                    OutgoingMessage(
                        f"{key}#email" + (f":{i}" if i else ""),
                        incident.incident_id,
                        "email",
                        address,
                        text,
                        subject,
                        {"ledger_key": key},
                    )
                )
        else:
            note = "; ".join(
                p for p in (note, f"no stakeholder email: set roles.{manager.value}") if p
            )
    return send_messages(rt, incident, action, key, outgoing, note=note)


def publish_postmortem(rt: Runtime, incident: Incident, markdown: str) -> ActionResult:
    """Create the GitHub tracking issue with the post-mortem as its body, or update the one
    `open_github_issue` created. Once per incident. A security incident's public issue says
    only that the post-mortem exists; the report goes to the security team by email."""
    repo = rt.settings.github_repo or "github"
    action = Action(type=ActionType.open_github_issue, target=repo, reason="post-mortem")
    key = f"{incident.incident_id}|publish_postmortem|github"
    security = formats.is_security(incident)
    title = github_email.github_title(incident, security=security)
    if incident.resolved_at is not None:
        title = f"{title} (resolved)"
    labels = github_email.github_labels(incident, incident.root_cause_category)
    body = github_email.github_restricted_postmortem(incident) if security else markdown
    outgoing = [
        OutgoingMessage(
            key,
            incident.incident_id,
            "github",
            repo,
            body,
            title,
            {"ledger_key": key, "labels": [*labels, "postmortem"]},
        )
    ]
    note = ""
    if security:
        team = EscalationTarget.security_team
        addresses = rt.policy.emails(team, incident.model_name)
        subject = f"[Restricted] Post-mortem {incident.incident_id} — {incident.model_name}"
        outgoing += [
            OutgoingMessage(
                f"{key}#security:{i}",
                incident.incident_id,
                "email",
                a,
                markdown,
                subject,
                {"ledger_key": key},
            )
            for i, a in enumerate(addresses)
        ]
        note = "" if addresses else f"the security team has no email: set roles.{team.value}"
    return send_messages(rt, incident, action, key, outgoing, note=note)


# ---- approvals and the page's buttons ----------------------------------------------------------
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
    """The approval request in the incident's thread and as a DM to each approver with a
    Slack user, with Approve / Reject buttons. Once per action."""
    key = action.key(incident.incident_id)
    ledger_key = f"{key}|approval_request"
    text = formats.format_approval_request(incident, action, payload)
    meta = {"ledger_key": ledger_key, "blocks": approval_blocks(text, key), "approval": key}
    channel = rt.policy.alerts_channel(incident.model_name)
    outgoing, _ = channel_post(rt, incident, ledger_key, channel, text, meta)
    if not outgoing:  # a P3 held for the digest still needs its answer: post it in the channel
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
