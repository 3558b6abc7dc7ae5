"""The post-mortem: the runbook's template filled from the incident's real state, a chart of
the incident window, the INCIDENTS row closed out, and a runbook addition when one is due.

    write_postmortem(settings, engine, report, now=...) -> PostMortem
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from agentops.domain import IncidentStatus, PostMortem
from agentops.errors import DataError
from agentops.postmortem.chart import draw_chart
from agentops.postmortem.model import RUNBOOK_MATCH_THRESHOLD, PostMortemInput, RunbookHit
from agentops.postmortem.proposal import proposal_reasons, propose_runbook_change
from agentops.postmortem.report import (
    render,
    resolution_text,
    restored,
    timeline_with_completion,
)
from agentops.settings import Settings
from agentops.store import incidents as store_incidents
from agentops.store import queries as q


def write_postmortem(
    settings: Settings, engine: sa.Engine, report: PostMortemInput, *, now: datetime
) -> PostMortem:
    """Write `$AGENTOPS_HOME/postmortems/<incident_id>.md` and its chart, and close the
    incident's INCIDENTS row (status, root cause, resolution, times, timeline, report path).

    Rewriting is safe: the same incident gets the same file names and the row is updated
    in place, so a retried post-mortem node leaves one report.
    """
    incident = report.incident
    out_dir = settings.postmortem_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{incident.incident_id}.md"
    chart = draw_chart(engine, incident, out_dir / f"{incident.incident_id}.png", now=now)

    category = report.diagnosis.category if report.diagnosis else incident.root_cause_category
    with engine.connect() as conn:
        if q.get_incident_row(conn, incident.incident_id) is None:
            raise DataError(
                f"no INCIDENTS row for {incident.incident_id}; the post-mortem closes an "
                "incident that detection opened"
            )
        seen = category is None or q.category_seen_before(
            conn, category.value, excluding=incident.incident_id
        )
    reasons = proposal_reasons(report, category_seen=seen)
    proposal = propose_runbook_change(report, settings.resolved_runbooks_dir) if reasons else None
    markdown = render(
        report,
        now=now,
        chart_name=chart.name if chart else None,
        proposal=proposal,
        proposal_reasons=reasons,
    )
    path.write_text(markdown, encoding="utf-8")

    is_restored = restored(report)
    with engine.begin() as conn:
        store_incidents.set_incident_fields(
            conn,
            incident.incident_id,
            postmortem=str(path),
            root_cause=report.diagnosis.root_cause if report.diagnosis else incident.root_cause,
            root_cause_category=category.value if category else None,
            resolution=resolution_text(report),
            # an incident a person must still act on stays escalated, without a resolved time
            status=(IncidentStatus.resolved if is_restored else IncidentStatus.escalated).value,
            resolved_at=_restored_at(report, now) if is_restored else None,
            updated_at=now,
        )
        store_incidents.set_timeline(
            conn, incident.incident_id, timeline_with_completion(report, now)
        )
    return PostMortem(
        incident_id=incident.incident_id,
        path=str(path),
        markdown=markdown,
        chart_path=str(chart) if chart else None,
        runbook_proposal=proposal,
    )


def _restored_at(report: PostMortemInput, now: datetime) -> datetime:
    times = [e.at for e in report.timeline if e.phase == "service_restored"]
    return min(times) if times else now


__all__ = ["RUNBOOK_MATCH_THRESHOLD", "PostMortemInput", "RunbookHit", "write_postmortem"]
