"""The SLA sweep: each breach escalates once, to the matrix's target."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from agentops.actions import Policy, sweep
from agentops.domain import IncidentStatus, Severity, TimelineEntry
from agentops.settings import Settings
from agentops.store import queries

from .builders import NOW, drift_incident, store_incident


def _targets(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(str(r["channel"]), str(r["target"])) for r in queries.messages_for(conn)]


@pytest.mark.parametrize("minutes, escalated", [(59, False), (61, True)])
def test_p1_unresolved_for_an_hour_goes_to_the_engineering_manager_once(
    store: sa.Engine, cfg: Settings, policy: Policy, minutes: int, escalated: bool
) -> None:
    store_incident(store, drift_incident(opened_at=NOW - timedelta(minutes=minutes)))
    first = sweep(store, cfg, now=NOW, policy=policy)
    second = sweep(store, cfg, now=NOW + timedelta(minutes=30), policy=policy)
    if escalated:
        assert [r.action.target for r in first] == ["engineering_manager"]
        assert "P1 unresolved for 61 minutes" in first[0].action.reason
        assert _targets(store) == [("slack", "U0MGR"), ("email", "manager@example.com")]
        assert second == []
    else:
        assert first == [] and [r.action.target for r in second] == ["engineering_manager"]


def test_p2_and_resolved_incidents_do_not_page_management(
    store: sa.Engine, cfg: Settings, policy: Policy
) -> None:
    store_incident(
        store,
        drift_incident(
            incident_id="INC-A", severity=Severity.P2, opened_at=NOW - timedelta(hours=5)
        ),
    )
    store_incident(
        store,
        drift_incident(
            incident_id="INC-B",
            status=IncidentStatus.resolved,
            opened_at=NOW - timedelta(hours=5),
            resolved_at=NOW - timedelta(hours=4),
        ),
    )
    assert sweep(store, cfg, now=NOW, policy=policy) == []


@pytest.mark.parametrize(
    "severity, waited, escalated",
    [
        (Severity.P2, 29, False),
        (Severity.P2, 31, True),
        (Severity.P1, 11, True),
        (Severity.P3, 200, False),
    ],
)
def test_an_approval_waiting_past_its_sla_escalates_to_the_ml_lead(
    store: sa.Engine,
    cfg: Settings,
    policy: Policy,
    severity: Severity,
    waited: int,
    escalated: bool,
) -> None:
    incident = drift_incident(
        severity=severity,
        status=IncidentStatus.awaiting_approval,
        opened_at=NOW - timedelta(minutes=waited + 5),
    )
    asked = TimelineEntry(phase="approval_requested", at=NOW - timedelta(minutes=waited))
    store_incident(store, incident, timeline=[asked])
    results = sweep(store, cfg, now=NOW, policy=policy)
    assert [r.action.target for r in results] == (["ml_team_lead"] if escalated else [])
    if escalated:
        assert "approval has waited" in results[0].action.reason
        expected = [("slack", "U0LEAD")] + (
            [("email", "dana@example.com")] if severity is Severity.P1 else []
        )
        assert _targets(store) == expected
        assert sweep(store, cfg, now=NOW + timedelta(minutes=10), policy=policy) == []


def test_a_decided_approval_is_not_overdue(store: sa.Engine, cfg: Settings, policy: Policy) -> None:
    incident = drift_incident(
        severity=Severity.P2,
        status=IncidentStatus.awaiting_approval,
        opened_at=NOW - timedelta(hours=2),
    )
    timeline = [
        TimelineEntry(phase="approval_requested", at=NOW - timedelta(hours=1)),
        TimelineEntry(phase="approval_decided", at=NOW - timedelta(minutes=50)),
    ]
    store_incident(store, incident, timeline=timeline)
    assert sweep(store, cfg, now=NOW, policy=policy) == []
