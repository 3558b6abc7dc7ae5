"""The SLA sweep: the seed's three timers for every severity, the approval deadline and the
matrix's P1 hour; each breach escalates once per person and reason, and only the resolution
SLA hands the incident to a person (status escalated)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from agentops.actions import Policy, sweep
from agentops.domain import IncidentStatus, Severity, TimelineEntry
from agentops.settings import Settings
from agentops.store import Stores, queries

from .builders import NOW, drift_incident, store_incident

# the seed's SLA table, restated: minutes per severity
SLA = {
    Severity.P1: {"triage": 5, "investigation": 10, "resolution": 120},
    Severity.P2: {"triage": 15, "investigation": 30, "resolution": 480},
    Severity.P3: {"triage": 60, "investigation": 240, "resolution": 1440},
}


def _targets(stores: Stores) -> list[tuple[str, str]]:
    with stores.state.connect() as conn:
        return [(str(r["channel"]), str(r["target"])) for r in queries.messages_for(conn)]


def _status(stores: Stores, incident_id: str = "INC-2026-1120-1") -> str:
    with stores.state.connect() as conn:
        row = queries.get_incident_row(conn, incident_id)
    assert row is not None
    return str(row["status"])


def _handled(
    opened: datetime, *, triage: int = 1, root_cause: int | None = 2
) -> list[TimelineEntry]:
    """A timeline through investigation: minutes after opening."""
    entries = [
        TimelineEntry(phase="detected", at=opened),
        TimelineEntry(phase="triage_started", at=opened + timedelta(minutes=triage)),
    ]
    if root_cause is not None:
        entries.append(
            TimelineEntry(phase="root_cause_identified", at=opened + timedelta(minutes=root_cause))
        )
    return entries


def _codes(results: list) -> set[str]:
    return {r.idempotency_key.rsplit("|", 1)[1] for r in results}


@pytest.mark.parametrize("minutes, escalated", [(59, False), (61, True)])
def test_p1_unresolved_for_an_hour_goes_to_the_engineering_manager_once(
    store: Stores, cfg: Settings, policy: Policy, minutes: int, escalated: bool
) -> None:
    opened = NOW - timedelta(minutes=minutes)
    store_incident(store, drift_incident(opened_at=opened), timeline=_handled(opened))
    first = sweep(store, cfg, now=NOW, policy=policy)
    second = sweep(store, cfg, now=NOW + timedelta(minutes=30), policy=policy)
    if escalated:
        assert [r.action.target for r in first] == ["engineering_manager"]
        assert "P1 unresolved for 61 minutes" in first[0].action.reason
        assert _targets(store) == [("slack", "U0MGR"), ("email", "manager@example.com")]
        assert second == []
    else:
        assert first == [] and [r.action.target for r in second] == ["engineering_manager"]
    assert _status(store) == "open", "telling the manager keeps the status"


def test_p2_and_resolved_incidents_do_not_page_management(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    opened = NOW - timedelta(hours=5)
    store_incident(
        store,
        drift_incident(incident_id="INC-A", severity=Severity.P2, opened_at=opened),
        timeline=_handled(opened),
    )
    store_incident(
        store,
        drift_incident(
            incident_id="INC-B",
            status=IncidentStatus.resolved,
            opened_at=opened,
            resolved_at=NOW - timedelta(hours=4),
        ),
    )
    assert sweep(store, cfg, now=NOW, policy=policy) == []


@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize("inside", [True, False])
def test_detection_to_triage_per_severity(
    store: Stores, cfg: Settings, policy: Policy, severity: Severity, inside: bool
) -> None:
    limit = SLA[severity]["triage"]
    opened = NOW - timedelta(minutes=limit - 1 if inside else limit + 1)
    detected = [TimelineEntry(phase="detected", at=opened)]
    store_incident(store, drift_incident(severity=severity, opened_at=opened), timeline=detected)
    made = sweep(store, cfg, now=NOW, policy=policy)
    assert ("sla_detection_to_triage" in _codes(made)) is not inside
    assert _status(store) == "open"


@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize("inside", [True, False])
def test_triage_to_investigation_per_severity(
    store: Stores, cfg: Settings, policy: Policy, severity: Severity, inside: bool
) -> None:
    limit = SLA[severity]["investigation"]
    triaged = NOW - timedelta(minutes=limit - 1 if inside else limit + 1)
    opened = triaged - timedelta(minutes=1)
    timeline = _handled(opened, triage=1, root_cause=None)
    store_incident(store, drift_incident(severity=severity, opened_at=opened), timeline=timeline)
    made = sweep(store, cfg, now=NOW, policy=policy)
    assert ("sla_triage_to_investigation" in _codes(made)) is not inside
    assert _status(store) == "open"


@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize("inside", [True, False])
def test_investigation_to_resolution_per_severity_hands_the_incident_to_a_person(
    store: Stores, cfg: Settings, policy: Policy, severity: Severity, inside: bool
) -> None:
    limit = SLA[severity]["resolution"]
    identified = NOW - timedelta(minutes=limit - 1 if inside else limit + 1)
    opened = identified - timedelta(minutes=2)
    incident = drift_incident(severity=severity, opened_at=opened, status=IncidentStatus.monitoring)
    store_incident(store, incident, timeline=_handled(opened))
    made = sweep(store, cfg, now=NOW, policy=policy)
    breached = "sla_investigation_to_resolution" in _codes(made)
    assert breached is not inside
    assert _status(store) == ("monitoring" if inside else "escalated")
    if breached:
        with store.state.connect() as conn:
            row = queries.get_incident_row(conn, incident.incident_id)
        assert row is not None
        assert "sla_breached" in [t.phase for t in queries.incident_timeline(row)]
        # once per person and reason: the next sweep sends nothing new for it
        again = sweep(store, cfg, now=NOW + timedelta(minutes=5), policy=policy)
        assert "sla_investigation_to_resolution" not in _codes(again)


@pytest.mark.parametrize(
    "severity, waited, escalated",
    [
        (Severity.P2, 29, False),
        (Severity.P2, 31, True),
        (Severity.P1, 11, True),
        (Severity.P3, 200, False),
        (Severity.P3, 241, True),
    ],
)
def test_an_approval_waiting_past_its_sla_escalates_to_the_ml_lead(
    store: Stores,
    cfg: Settings,
    policy: Policy,
    severity: Severity,
    waited: int,
    escalated: bool,
) -> None:
    opened = NOW - timedelta(minutes=waited + 3)
    incident = drift_incident(
        severity=severity, status=IncidentStatus.awaiting_approval, opened_at=opened
    )
    asked = TimelineEntry(phase="approval_requested", at=NOW - timedelta(minutes=waited))
    store_incident(store, incident, timeline=[*_handled(opened), asked])
    results = sweep(store, cfg, now=NOW, policy=policy)
    overdue = [r for r in results if r.idempotency_key.endswith("|approval_overdue")]
    assert bool(overdue) == escalated
    if escalated:
        assert overdue[0].action.target == "ml_team_lead"
        assert "approval has waited" in overdue[0].action.reason
        assert ("slack", "U0LEAD") in _targets(store)
        emailed = ("email", "dana@example.com") in _targets(store)
        assert emailed == (severity is Severity.P1), "P1 escalations are also emailed"
        later = sweep(store, cfg, now=NOW + timedelta(minutes=10), policy=policy)
        assert not [r for r in later if r.idempotency_key.endswith("|approval_overdue")]
    assert _status(store) == "awaiting_approval", "an overdue approval only tells people"


def test_a_decided_approval_is_not_overdue(store: Stores, cfg: Settings, policy: Policy) -> None:
    opened = NOW - timedelta(hours=2)
    incident = drift_incident(
        severity=Severity.P2, status=IncidentStatus.awaiting_approval, opened_at=opened
    )
    timeline = [
        *_handled(opened),
        TimelineEntry(phase="approval_requested", at=NOW - timedelta(hours=1)),
        TimelineEntry(phase="approval_decided", at=NOW - timedelta(minutes=50)),
    ]
    store_incident(store, incident, timeline=timeline)
    assert sweep(store, cfg, now=NOW, policy=policy) == []


def test_the_same_person_is_told_again_for_a_different_reason(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    """Once per person AND reason: an overdue approval, then the resolution SLA."""
    opened = NOW - timedelta(minutes=30)
    incident = drift_incident(status=IncidentStatus.awaiting_approval, opened_at=opened)
    asked = TimelineEntry(phase="approval_requested", at=opened + timedelta(minutes=3))
    store_incident(store, incident, timeline=[*_handled(opened), asked])
    first = sweep(store, cfg, now=NOW, policy=policy)
    assert _codes(first) == {"approval_overdue"}
    later = sweep(store, cfg, now=opened + timedelta(minutes=125), policy=policy)
    assert "sla_investigation_to_resolution" in _codes(later)
    lead_dms = [t for t in _targets(store) if t == ("slack", "U0LEAD")]
    assert len(lead_dms) == 2


def test_an_acknowledged_incident_is_not_escalated_as_nobodys(
    store: Stores, cfg: Settings, policy: Policy
) -> None:
    from agentops.store import incidents as store_incidents

    opened = NOW - timedelta(minutes=90)
    incident = drift_incident(status=IncidentStatus.awaiting_approval, opened_at=opened)
    asked = TimelineEntry(phase="approval_requested", at=opened + timedelta(minutes=3))
    store_incident(store, incident, timeline=[*_handled(opened), asked])
    with store.state.begin() as conn:
        store_incidents.set_incident_fields(conn, incident.incident_id, owner="dana")
    made = sweep(store, cfg, now=NOW, policy=policy)
    assert "approval_overdue" not in _codes(made)
    assert "p1_unresolved" in _codes(made), "the manager still hears of an old P1"
