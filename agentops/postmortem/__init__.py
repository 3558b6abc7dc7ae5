"""The post-mortem: the runbook's template filled from the incident's real state, a chart of
the incident window, the INCIDENTS row closed out, and a runbook addition when one is due.

    write_postmortem(settings, stores, report, now=..., resolution=None) -> PostMortem
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from agentops.domain import IncidentStatus, PostMortem
from agentops.errors import DataError
from agentops.postmortem.chart import draw_chart
from agentops.postmortem.model import RUNBOOK_MATCH_THRESHOLD, PostMortemInput, RunbookHit
from agentops.postmortem.proposal import proposal_reasons, propose_runbook_change
from agentops.postmortem.report import (
    render,
    resolution_text,
    timeline_with_completion,
)
from agentops.settings import Settings
from agentops.store import Stores, state_tables
from agentops.store import incidents as store_incidents
from agentops.store import queries as q
from agentops.store.load import to_db_time


def write_postmortem(
    settings: Settings,
    stores: Stores,
    report: PostMortemInput,
    *,
    now: datetime,
    resolution: str | None = None,
) -> PostMortem:
    """Write `$AGENTOPS_HOME/postmortems/<incident_id>.md` and its chart, keep both in the
    state store (so any worker or host can serve them), and close the incident as resolved
    (root cause, resolution, resolved time, timeline, report path).

    Rewriting is safe: the same incident gets the same file names and rows are updated in
    place, so a retried post-mortem node leaves one report.
    """
    incident = report.incident
    out_dir = settings.postmortem_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{incident.incident_id}.md"
    chart = draw_chart(
        stores.monitoring, incident, out_dir / f"{incident.incident_id}.png", now=now
    )

    category = report.diagnosis.category if report.diagnosis else incident.root_cause_category
    with stores.state.connect() as conn:
        if q.get_incident_row(conn, incident.incident_id) is None:
            raise DataError(
                f"no incident {incident.incident_id} in the state store; the post-mortem closes "
                "an incident that detection opened"
            )
    with stores.monitoring.connect() as conn:
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
    with stores.state.begin() as conn:
        store_incidents.set_incident_fields(
            conn,
            incident.incident_id,
            postmortem=str(path),
            root_cause=report.diagnosis.root_cause if report.diagnosis else incident.root_cause,
            root_cause_category=category.value if category else None,
            resolution=resolution or resolution_text(report),
            status=IncidentStatus.resolved.value,
            resolved_at=_restored_at(report, now),
            waiting_for=None,
            waiting_detail=None,
            updated_at=now,
        )
        store_incidents.add_timeline(
            conn, incident.incident_id, timeline_with_completion(report, now)
        )
        _keep(conn, incident.incident_id, markdown, chart, now)
    return PostMortem(
        incident_id=incident.incident_id,
        path=str(path),
        markdown=markdown,
        chart_path=str(chart) if chart else None,
        runbook_proposal=proposal,
    )


def _restored_at(report: PostMortemInput, now: datetime) -> datetime:
    """When service was restored (the recovery check that saw it), else `now`."""
    times = [e.at for e in report.timeline if e.phase == "service_restored"]
    return min(times) if times else now


def _keep(
    conn: sa.Connection, incident_id: str, markdown: str, chart: Path | None, now: datetime
) -> None:
    """The report and chart in the state store, replacing an earlier version."""
    table = state_tables.postmortems
    conn.execute(table.delete().where(table.c.incident_id == incident_id))
    conn.execute(
        table.insert().values(
            incident_id=incident_id,
            markdown=markdown,
            chart_png=chart.read_bytes() if chart is not None and chart.is_file() else None,
            written_at=to_db_time(now, what="now"),
        )
    )


__all__ = ["RUNBOOK_MATCH_THRESHOLD", "PostMortemInput", "RunbookHit", "write_postmortem"]
