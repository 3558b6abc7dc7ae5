"""The post-mortem keeps the evidence each approver was shown (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime

from agentops.domain import Action, ActionFacts, ActionPlan, Incident
from agentops.postmortem.model import PostMortemInput
from agentops.postmortem.report import render

OPENED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_the_report_shows_the_evidence_behind_each_approval() -> None:
    facts = ActionFacts(
        as_of=OPENED,
        lines=[
            "Target 2.2.0 in its last 3 healthy windows: F1 0.900, precision 0.940, recall 0.860",
            "Feature schema: differs from today's: today's data has @merchant_code that 2.2.0 "
            "never saw",
        ],
    )
    rollback = Action(type="rollback_model", target="classifier_v2", facts=facts)
    notice = Action(type="notify_slack", target="#ml-alerts")
    report = PostMortemInput(
        incident=Incident(
            incident_id="INC-2026-1120-1",
            model_name="classifier_v2",
            severity="P1",
            alert_types=["model_performance"],
            opened_at=OPENED,
        ),
        plan=ActionPlan(actions=[notice, rollback]),
    )
    text = render(report, now=OPENED, chart_name=None, proposal=None)
    section = text.split("### Evidence behind the approvals\n", 1)[1].split("\n\n", 1)[0]
    lines = section.splitlines()
    assert lines[0] == "- rollback_model → `classifier_v2` (as of 2026-11-20 12:00 UTC):"
    assert lines[1].startswith("  - Target 2.2.0 in its last 3 healthy windows: F1 0.900")
    assert "@merchant_code" not in lines[2]  # table values never mention anyone on GitHub
    assert len(lines) == 3  # the notice needed no approval and has no facts
