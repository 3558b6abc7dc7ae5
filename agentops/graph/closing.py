"""The `postmortem` node's work: close the incident, write the report, tell people once."""

from __future__ import annotations

from agentops import actions
from agentops.domain import ActionType, TimelineEntry
from agentops.errors import AgentOpsError
from agentops.graph import records as r
from agentops.graph.services import Services
from agentops.graph.state import Json, State
from agentops.postmortem import PostMortemInput, RunbookHit, write_postmortem
from agentops.postmortem.report import resolution_text, restored
from agentops.store import queries as q


def close_incident(svc: Services, state: State) -> Json:
    at = r.stamp(state)
    diagnosis = r.diagnosis(state)
    incident = r.incident(state)
    if diagnosis is not None:
        incident = incident.model_copy(
            update={"root_cause": diagnosis.root_cause, "root_cause_category": diagnosis.category}
        )
    results = r.results(state)
    timeline = r.timeline(state)
    report = PostMortemInput(
        incident=incident,
        diagnosis=diagnosis,
        evidence=r.evidence(state),
        plan=r.plan(state),
        results=results,
        approvals=r.approvals(state),
        timeline=timeline,
        usage=r.usage(state),
        runbook_hits=[RunbookHit.model_validate(h) for h in state.get("runbook_hits") or []],
        notes=list(state.get("notes") or []),
    )
    added: list[Json] = []
    if restored(report) and not any(e.phase == "service_restored" for e in timeline):
        entry = TimelineEntry(phase="service_restored", at=at, note=resolution_text(report))
        report = report.model_copy(update={"timeline": [*timeline, entry]})
        added.append(r.dump(entry))
    notes: list[str] = []
    written = write_postmortem(svc.settings, svc.engine, report, now=at)
    with svc.engine.connect() as conn:
        row = q.get_incident_row(conn, incident.incident_id)
    closed = q.incident_from_row(row) if row else incident
    if restored(report):
        actions.post_resolution(
            svc.engine,
            svc.settings,
            closed,
            now=at,
            root_cause=closed.root_cause or "not determined",
            resolution=resolution_text(report),
        )
    actions.publish_postmortem(svc.engine, svc.settings, closed, written.markdown, now=at)
    actions.deliver_pending(svc.engine, svc.settings, now=at)
    try:
        from agentops.rag import add_incident

        add_incident(svc.engine, svc.settings, incident.incident_id)
    except AgentOpsError as exc:  # the report stands; the incident index catches up later
        notes.append(f"incident index not updated: {exc}")
    escalated = sorted(
        {
            res.action.target
            for res in results
            if res.action.type is ActionType.escalate and res.status in {"succeeded", "queued"}
        }
    )
    done = [res for res in results if res.status in {"succeeded", "queued"}]
    summary = (
        f"{closed.incident_id} {closed.severity.value} {closed.model_name}: "
        f"{closed.root_cause_category.value if closed.root_cause_category else 'unknown'} — "
        f"{closed.root_cause}. {len(done)} action(s) done"
        + (f", escalated to {', '.join(escalated)}" if escalated else "")
        + f". Status: {closed.status.value}. Post-mortem: {written.path}"
    )
    completed = TimelineEntry(phase="postmortem_completed", at=at, note=written.path)
    return {
        "incident": r.incident_summary(closed),
        "postmortem_path": written.path,
        "escalated_to": escalated,
        "summary": summary,
        "notes": notes,
        "timeline": [*added, r.dump(completed)],
    }
