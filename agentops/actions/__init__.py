"""Remediation and communication: Slack, GitHub, email, the model-registry executors, the
escalation matrix and the SLA timers. The only package besides `store/` that touches the
outside world; every side effect goes through the action ledger (exactly once per
incident, action and target).

Seams the graph calls:
    execute(stores, settings, incident, action, *, now, approved_by=None, context=None)
    post_resolution(stores, settings, incident, *, now, root_cause, resolution)
    publish_postmortem(stores, settings, incident, markdown, *, now)
    deliver_pending(state_engine, settings, *, now) -> DeliveryReport
    sweep(stores, settings, *, now) -> list[ActionResult]
    format_alert_message(incident, alerts=None, diagnosis=None) / format_resolution_message(...)
Each also takes keyword-only `senders=` / `policy=` (built from settings by default), which
is how tests point the clients at local stand-in servers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agentops.actions import messaging, notices, sla
from agentops.actions.clients import Senders, build_senders
from agentops.actions.deliver import DeliveryReport, deliver_pending
from agentops.actions.execute import execute
from agentops.actions.formats import format_alert_message, format_resolution_message
from agentops.actions.outbox import list_outbox
from agentops.actions.policy import Policy, load_policy
from agentops.actions.runtime import Runtime
from agentops.detection.sanity import Finding
from agentops.domain import Action, ActionResult, Incident
from agentops.settings import Settings
from agentops.store import Stores


def page_incident(
    stores: Stores,
    settings: Settings,
    incident: Incident,
    *,
    now: datetime,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> ActionResult:
    """The alert at detection (see `messaging.page`): once per incident, no model involved."""
    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    return messaging.page(rt, incident)


def page_storm(
    stores: Stores,
    settings: Settings,
    parent: Incident,
    members: list[Incident],
    cause: str,
    *,
    now: datetime,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> ActionResult:
    """One page for a storm (see `messaging.page_storm`): the cause and every affected model."""
    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    return messaging.page_storm(rt, parent, members, cause)


def report_findings(
    stores: Stores,
    settings: Settings,
    findings: Sequence[Finding],
    *,
    now: datetime,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> list[str]:
    """Bad rows in the monitoring tables to the data-alerts channel, once each."""
    if not findings:
        return []
    from agentops.actions.findings import report_findings as report

    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    return report(rt, findings)


def post_reply(
    stores: Stores,
    settings: Settings,
    incident: Incident,
    kind: str,
    text: str,
    *,
    now: datetime,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> ActionResult:
    """A reply in the incident's Slack thread, once per `kind`."""
    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    return messaging.reply(rt, incident, kind, text)


def request_approval(
    stores: Stores,
    settings: Settings,
    incident: Incident,
    action: Action,
    payload: dict[str, Any],
    *,
    approvers: tuple[str, ...],
    now: datetime,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> ActionResult:
    """The approval request with Approve / Reject buttons (see `messaging.approval_request`)."""
    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    return messaging.approval_request(rt, incident, action, payload, approvers)


def post_resolution(
    stores: Stores,
    settings: Settings,
    incident: Incident,
    *,
    now: datetime,
    root_cause: str,
    resolution: str,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> ActionResult:
    """`✅ [Resolved] <title> — <model>` with root cause, resolution and time to resolve
    (opened_at to resolved_at, else `now`) in the incident's #ml-alerts thread; for P1 also
    emailed to engineering_manager as the stakeholder update. Exactly once per incident."""
    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    return messaging.post_resolution(rt, incident, root_cause=root_cause, resolution=resolution)


def publish_postmortem(
    stores: Stores,
    settings: Settings,
    incident: Incident,
    markdown: str,
    *,
    now: datetime,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> ActionResult:
    """Put the post-mortem in the incident's GitHub tracking issue: edits the issue
    `open_github_issue` created, else creates one (labels: severity, category, postmortem).
    Exactly once per incident."""
    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    return messaging.publish_postmortem(rt, incident, markdown)


def sweep(
    stores: Stores,
    settings: Settings,
    *,
    now: datetime,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> list[ActionResult]:
    """Apply the SLA timers to every unresolved incident (see `actions.sla`); returns the
    escalations this sweep made (each breach escalates once, ever). In the P3 digest mode it
    also posts each finished day's digest (`actions.notices`)."""
    rt = Runtime(stores, settings, now=now, senders=senders, policy=policy)
    made = sla.sweep_incidents(rt)
    notices.post_digests(rt)
    return made


__all__ = [
    "DeliveryReport",
    "Policy",
    "Senders",
    "build_senders",
    "deliver_pending",
    "execute",
    "format_alert_message",
    "format_resolution_message",
    "list_outbox",
    "load_policy",
    "page_incident",
    "page_storm",
    "post_reply",
    "post_resolution",
    "publish_postmortem",
    "report_findings",
    "request_approval",
    "sweep",
]
