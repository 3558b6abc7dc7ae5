"""Remediation and communication: Slack, GitHub, email, the model-registry executors, the
escalation matrix and the SLA timers. The only package besides `store/` that touches the
outside world; every side effect goes through the action ledger (exactly once per
incident, action and target).

Seams the graph calls:
    execute(engine, settings, incident, action, *, now, approved_by=None, context=None)
    post_resolution(engine, settings, incident, *, now, root_cause, resolution)
    publish_postmortem(engine, settings, incident, markdown, *, now)
    deliver_pending(engine, settings, *, now) -> DeliveryReport
    sweep(engine, settings, *, now) -> list[ActionResult]
    format_alert_message(incident, alerts=None, diagnosis=None) / format_resolution_message(...)
Each also takes keyword-only `senders=` / `policy=` (built from settings by default), which
is how tests point the clients at local stand-in servers.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from agentops.actions import messaging, sla
from agentops.actions.clients import Senders, build_senders
from agentops.actions.deliver import DeliveryReport, deliver_pending
from agentops.actions.execute import execute
from agentops.actions.formats import format_alert_message, format_resolution_message
from agentops.actions.outbox import list_outbox
from agentops.actions.policy import Policy, load_policy
from agentops.actions.runtime import Runtime
from agentops.domain import ActionResult, Incident
from agentops.settings import Settings


def post_resolution(
    engine: sa.Engine,
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
    rt = Runtime(engine, settings, now=now, senders=senders, policy=policy)
    return messaging.post_resolution(rt, incident, root_cause=root_cause, resolution=resolution)


def publish_postmortem(
    engine: sa.Engine,
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
    rt = Runtime(engine, settings, now=now, senders=senders, policy=policy)
    return messaging.publish_postmortem(rt, incident, markdown)


def sweep(
    engine: sa.Engine,
    settings: Settings,
    *,
    now: datetime,
    senders: Senders | None = None,
    policy: Policy | None = None,
) -> list[ActionResult]:
    """Apply the SLA timers to every unresolved incident (see `actions.sla`); returns the
    escalations this sweep made (each breach escalates once, ever)."""
    rt = Runtime(engine, settings, now=now, senders=senders, policy=policy)
    return sla.sweep_incidents(rt)


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
    "post_resolution",
    "publish_postmortem",
    "sweep",
]
