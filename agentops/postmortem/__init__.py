"""The post-mortem: the runbook's template filled from the incident's real state, a chart of
the incident window, the INCIDENTS row closed out, and a runbook addition when one is due.

    measure_incident(stores, settings, incident, now=...) -> ImpactFacts
    write_postmortem(settings, stores, report, now=..., resolution=None) -> PostMortem
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from agentops.actions.wording import ROLE_WORDS
from agentops.domain import (
    EscalationTarget,
    Incident,
    IncidentStatus,
    PostMortem,
    TimelineEntry,
)
from agentops.errors import ConfigError, DataError
from agentops.postmortem.chart import draw_chart
from agentops.postmortem.impact import measure
from agentops.postmortem.model import (
    RUNBOOK_MATCH_THRESHOLD,
    ImpactFacts,
    PostMortemInput,
    RunbookHit,
)
from agentops.postmortem.proposal import covered, proposal_reasons, propose_runbook_change
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
    with stores.state.connect() as conn:
        if q.get_incident_row(conn, incident.incident_id) is None:
            raise DataError(
                f"no incident {incident.incident_id} in the state store; the post-mortem closes "
                "an incident that detection opened"
            )
    report = _with_policy(settings, report)
    if report.impact is None:
        impact = measure_incident(stores, settings, incident, timeline=report.timeline, now=now)
        report = report.model_copy(update={"impact": impact})
    chart = draw_chart(stores.monitoring, report, out_dir / f"{incident.incident_id}.png", now=now)
    category = report.diagnosis.category if report.diagnosis else incident.root_cause_category
    reasons = proposal_reasons(report, covered=covered(report, settings.resolved_runbooks_dir))
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


def measure_incident(
    stores: Stores,
    settings: Settings,
    incident: Incident,
    *,
    timeline: list[TimelineEntry] | None = None,
    now: datetime,
) -> ImpactFacts:
    """The incident's reach from the monitoring tables (`impact.measure`), with the first
    breach, the remediation and the restoration as the state store recorded them."""
    from agentops.detection.thresholds import load_threshold_set

    with stores.state.connect() as conn:
        row = q.get_incident_row(conn, incident.incident_id) or {}
    entries = timeline if timeline is not None else (q.incident_timeline(row) if row else [])
    restored = [e.at for e in entries if e.phase == "service_restored"]
    try:
        windows = load_threshold_set(settings).for_model(incident.model_name).recovery_windows
    except ConfigError:
        windows = 2
    with stores.monitoring.connect() as conn:
        return measure(
            conn,
            incident,
            first_breach_at=row.get("first_breach_at"),
            remediated_at=row.get("remediated_at"),
            restored_at=min(restored) if restored else None,
            now=now,
            recovery_windows=windows,
        )


def _with_policy(settings: Settings, report: PostMortemInput) -> PostMortemInput:
    """The report with the policy file's SLA minutes and who holds each role (in words)."""
    from agentops.actions.policy import load_policy

    try:
        policy = load_policy(settings)
    except ConfigError:
        return report
    model = report.incident.model_name
    sla = policy.sla[report.incident.severity].model_dump()
    owners = {role.value: policy.display_name(role, model) for role in EscalationTarget}
    owners = {k: v for k, v in owners.items() if v != ROLE_WORDS[EscalationTarget(k)]}
    return report.model_copy(
        update={
            "sla_minutes": {**sla, **report.sla_minutes},
            "owners": {**owners, **report.owners},
        }
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


__all__ = [
    "RUNBOOK_MATCH_THRESHOLD",
    "ImpactFacts",
    "PostMortemInput",
    "RunbookHit",
    "measure_incident",
    "write_postmortem",
]
