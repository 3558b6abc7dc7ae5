"""SLA timers: the runbook's three response times and the escalation matrix, applied to time.
Run at the start of every scheduler pass (and by `agentops sweep`); each breach escalates
once per person and reason, through the ledger.

For every unresolved incident, with the times its stored timeline records:

| timer | from → to | on breach (targets from the policy's `escalation`) |
|---|---|---|
| Detection → Triage | opened → triage_started | ml_team_lead told (notify) |
| Triage → Investigation | triage_started → root_cause_identified | ml_team_lead told (notify) |
| an approval unanswered past the Triage → Investigation time | approval_requested → decided | ml_team_lead told (`approval_overdue`) |
| Investigation → Resolution | root_cause_identified → resolved | ml_team_lead; the incident becomes `escalated` (CONTRACT.md) |
| P1 unresolved > `p1_unresolved_after_minutes` (60) | opened → resolved | engineering_manager told |

Notifying escalations keep the status (CONTRACT.md); only the resolution SLA hands the
incident to a person. Limits are per severity (P1, P2, P3) from the policy's `sla` table.
An acknowledged incident (`owner` set: somebody took it) skips the first three: they exist
to tell the ML team lead that nobody did.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from agentops.actions import messaging
from agentops.actions.runtime import Runtime
from agentops.domain import (
    Action,
    ActionResult,
    ActionType,
    EscalationTarget,
    Incident,
    IncidentStatus,
    Severity,
    TimelineEntry,
)
from agentops.store import incidents as store_incidents
from agentops.store import queries
from agentops.store.state_tables import incidents


def _open_incidents(conn: sa.Connection) -> list[tuple[Incident, dict[str, object]]]:
    rows = conn.execute(
        sa.select(incidents)
        .where(
            incidents.c.status != IncidentStatus.resolved.value,
            incidents.c.resolved_at.is_(None),
            incidents.c.alerts.is_not(None),
        )
        .order_by(*queries.incident_order())
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


def _first(timeline: list[TimelineEntry], phase: str) -> datetime | None:
    found = [t.at for t in timeline if t.phase == phase]
    return min(found) if found else None


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _escalation(target: EscalationTarget, code: str, reason: str) -> Action:
    return Action(
        type=ActionType.escalate, target=target.value, reason=reason, params={"reason_code": code}
    )


def due_escalations(rt: Runtime, incident: Incident, row: dict[str, object]) -> list[Action]:
    """The escalations the SLA rules call for now (before the ledger's exactly-once)."""
    matrix = rt.policy.escalation
    sla = rt.policy.sla[incident.severity]
    timeline = queries.incident_timeline(row)
    sev = incident.severity.value
    due: list[Action] = []
    triaged = _first(timeline, "triage_started")
    identified = _first(timeline, "root_cause_identified")
    owned = bool(row.get("owner"))  # acknowledged: somebody took it, so no "nobody took it"
    if (
        not owned
        and triaged is None
        and rt.now - incident.opened_at > timedelta(minutes=sla.detection_to_triage)
    ):
        due.append(
            _escalation(
                matrix.remediation_failed,
                "sla_detection_to_triage",
                f"not triaged {_minutes(rt.now - incident.opened_at)} minutes after detection "
                f"(SLA for {sev}: {sla.detection_to_triage} minutes)",
            )
        )
    if (
        not owned
        and triaged is not None
        and identified is None
        and rt.now - triaged > timedelta(minutes=sla.triage_to_investigation)
    ):
        due.append(
            _escalation(
                matrix.remediation_failed,
                "sla_triage_to_investigation",
                f"no root cause {_minutes(rt.now - triaged)} minutes after triage began "
                f"(SLA for {sev}: {sla.triage_to_investigation} minutes)",
            )
        )
    since = approval_waiting_since(row)
    if (
        not owned
        and since is not None
        and rt.now - since > timedelta(minutes=sla.triage_to_investigation)
    ):
        due.append(
            _escalation(
                matrix.approval_overdue,
                "approval_overdue",
                f"an approval has waited {_minutes(rt.now - since)} minutes "
                f"(SLA for {sev}: {sla.triage_to_investigation} minutes)",
            )
        )
    if identified is not None and rt.now - identified > timedelta(
        minutes=sla.investigation_to_resolution
    ):
        due.append(
            _escalation(
                matrix.remediation_failed,
                "sla_investigation_to_resolution",
                f"not resolved {_minutes(rt.now - identified)} minutes after the root cause "
                f"was identified (SLA for {sev}: {sla.investigation_to_resolution} minutes); "
                "a person owns it now",
            )
        )
    age = rt.now - incident.opened_at
    if incident.severity is Severity.P1 and age > timedelta(
        minutes=matrix.p1_unresolved_after_minutes
    ):
        due.append(
            _escalation(
                matrix.p1_unresolved,
                "p1_unresolved",
                f"P1 unresolved for {_minutes(age)} minutes "
                f"(matrix: more than {matrix.p1_unresolved_after_minutes})",
            )
        )
    return due


def sweep_incidents(rt: Runtime) -> list[ActionResult]:
    """Escalate every SLA breach once; returns only escalations made by this sweep. A
    breached resolution SLA also makes the incident `escalated`."""
    with rt.state.connect() as conn:
        found = _open_incidents(conn)
    made: list[ActionResult] = []
    for incident, row in found:
        for action in due_escalations(rt, incident, row):
            result = messaging.escalate(rt, incident, action, None)
            if action.params.get("reason_code") == "sla_investigation_to_resolution":
                entry = TimelineEntry(phase="sla_breached", at=rt.now, note=action.reason)
                with rt.state.begin() as conn:
                    store_incidents.set_status(conn, incident.incident_id, IncidentStatus.escalated)
                    store_incidents.add_timeline(conn, incident.incident_id, [entry])
                store_incidents.mirror(rt.monitoring, rt.state, incident.incident_id)
            if not result.replayed:
                made.append(result)
    return made
