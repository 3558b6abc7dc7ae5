"""SLA timers: the escalation matrix applied to time. Run by `agentops sweep` (or a cron /
LangGraph cron job); each breach escalates exactly once, through the ledger.

Rules (targets come from the policy's `escalation` section):
- P1 unresolved for more than `p1_unresolved_after_minutes` (60) after `opened_at`
  -> `p1_unresolved` (engineering_manager), by Slack DM and email.
- An approval waiting past its SLA: incident status `awaiting_approval`, its latest timeline
  entry `approval_requested` not followed by `approval_decided`, older than the SLA table's
  **Triage -> Investigation** column for the incident's severity (P1 10 min, P2 30 min,
  P3 4 h): the time the runbook gives a person to pick an incident up. -> `approval_overdue`
  (ml_team_lead, who can approve or take over), by Slack DM, plus email for P1.

The ledger key is (incident, escalate, target): a target already escalated to for this
incident is not messaged again for a second reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from agentops.actions import messaging
from agentops.actions.runtime import Runtime
from agentops.domain import Action, ActionResult, ActionType, Incident, IncidentStatus, Severity
from agentops.store import queries
from agentops.store.tables import incidents


def _open_incidents(conn: sa.Connection) -> list[tuple[Incident, dict[str, object]]]:
    rows = conn.execute(
        sa.select(incidents)
        .where(
            incidents.c.status != IncidentStatus.resolved.value, incidents.c.resolved_at.is_(None)
        )
        .order_by(incidents.c.opened_at, incidents.c.incident_id)
    ).mappings()
    out = []
    for raw in rows:
        row = queries.as_row(raw)
        out.append((queries.incident_from_row(row), row))
    return out


def approval_waiting_since(row: dict[str, object]) -> datetime | None:
    """When the pending approval was requested, or None if none is pending."""
    timeline = queries.incident_timeline(row)
    requested = [t.at for t in timeline if t.phase == "approval_requested"]
    if not requested:
        return None
    last = max(requested)
    if any(t.phase == "approval_decided" and t.at >= last for t in timeline):
        return None
    return last


def due_escalations(rt: Runtime, incident: Incident, row: dict[str, object]) -> list[Action]:
    """The escalations the SLA rules call for now (before the ledger's exactly-once)."""
    policy = rt.policy.escalation
    due: list[Action] = []
    age = rt.now - incident.opened_at
    limit = timedelta(minutes=policy.p1_unresolved_after_minutes)
    if incident.severity is Severity.P1 and age > limit:
        due.append(
            Action(
                type=ActionType.escalate,
                target=policy.p1_unresolved.value,
                reason=f"P1 unresolved for {int(age.total_seconds() // 60)} minutes "
                f"(matrix: more than {policy.p1_unresolved_after_minutes})",
            )
        )
    if incident.status is IncidentStatus.awaiting_approval:
        since = approval_waiting_since(row)
        sla = rt.policy.sla[incident.severity].triage_to_investigation
        if since is not None and rt.now - since > timedelta(minutes=sla):
            waited = int((rt.now - since).total_seconds() // 60)
            due.append(
                Action(
                    type=ActionType.escalate,
                    target=policy.approval_overdue.value,
                    reason=f"an approval has waited {waited} minutes "
                    f"(SLA for {incident.severity.value}: {sla} minutes)",
                )
            )
    return due


def sweep_incidents(rt: Runtime) -> list[ActionResult]:
    """Escalate every SLA breach once; returns only escalations made by this sweep."""
    with rt.engine.connect() as conn:
        found = _open_incidents(conn)
    made: list[ActionResult] = []
    for incident, row in found:
        for action in due_escalations(rt, incident, row):
            result = messaging.escalate(rt, incident, action, None)
            if not result.replayed:
                made.append(result)
    return made
