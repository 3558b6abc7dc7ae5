"""The `postmortem` node's work: close the incident as resolved, write the report, tell people
once.

An incident reaches here only resolved: its conditions recovered (`verify`), or a person
closed it (resolve by hand, false positive). What ran comes from the action ledger, not from
this thread's memory: a fork or re-run from an earlier checkpoint cannot contradict what
happened.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from agentops import actions
from agentops.actions.wording import headline_of
from agentops.clock import parse_instant
from agentops.domain import ActionResult, ActionType, Incident, IncidentStatus, TimelineEntry
from agentops.errors import AgentOpsError
from agentops.graph import records as r
from agentops.graph.base import NodeBase
from agentops.graph.state import Json, State
from agentops.postmortem import PostMortemInput, RunbookHit, measure_incident, write_postmortem
from agentops.postmortem.report import resolution_text
from agentops.store import incidents as store_incidents
from agentops.store import queries as q
from agentops.store.state_tables import postmortems, retrain_jobs


def ledger_results(
    rows: list[dict[str, object]], fallback: list[ActionResult]
) -> list[ActionResult]:
    """The incident's action results as the ledger recorded them (the thread's own list
    fills in entries the ledger holds no result for)."""
    by_key = {res.idempotency_key: res for res in fallback}
    for row in rows:
        stored = row.get("result")
        if not stored:
            continue
        data = json.loads(str(stored))
        fields = {k: v for k, v in data.items() if k in ActionResult.model_fields}
        result = ActionResult.model_validate(fields)
        by_key[result.idempotency_key] = result
    return list(by_key.values())


def ledger_data(rows: list[dict[str, object]], jobs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each ledger entry's outcome data by key (the versions a rollback moved between, the
    retrain job), with a job's status as RETRAIN_JOBS holds it now."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        stored = json.loads(str(row["result"])) if row.get("result") else {}
        data = stored.get("data") if isinstance(stored, dict) else None
        if not isinstance(data, dict):
            continue
        job = data.get("job")
        if isinstance(job, dict) and str(job.get("job_id")) in jobs:
            data = {**data, "job": {**job, "status": jobs[str(job["job_id"])]}}
        out[str(row["idempotency_key"])] = data
    return out


class ClosingNodes(NodeBase):
    def _resolution_inputs(
        self,
        incident: Incident,
        logged: list[dict[str, object]],
        timeline: list[TimelineEntry],
        at: datetime,
    ) -> dict[str, Any]:
        """What the resolution's words are made of, beyond the thread's state: the ledger's
        outcome data, the messages that never got through, and the incident's reach
        measured from the monitoring tables (first breach to recovery)."""
        svc = self.svc
        with svc.state.connect() as conn:
            jobs = {
                str(job_id): str(status)
                for job_id, status in conn.execute(
                    sa.select(retrain_jobs.c.job_id, retrain_jobs.c.status).where(
                        retrain_jobs.c.incident_id == incident.incident_id
                    )
                )
            }
            failed = [
                f"{m['channel']} → {m['target']}"
                for m in q.messages_for(conn, incident.incident_id)
                if m["status"] == "failed"
            ]
        impact = measure_incident(svc.stores, svc.settings, incident, timeline=timeline, now=at)
        return {"action_data": ledger_data(logged, jobs), "undelivered": failed, "impact": impact}

    def _written_before(self, incident_id: str, timeline: list[TimelineEntry]) -> str | None:
        """The path of this resolution's post-mortem when one is stored already (written
        after the incident's last reopening), else None."""
        with self.svc.state.connect() as conn:
            written_at = conn.execute(
                sa.select(postmortems.c.written_at).where(postmortems.c.incident_id == incident_id)
            ).scalar()
        if written_at is None:
            return None
        reopened = [t.at for t in timeline if t.phase == "reopened"]
        written = parse_instant(written_at, what="written_at")
        if reopened and written < max(reopened):
            return None
        done = [t.note for t in timeline if t.phase == "postmortem_completed" and t.note]
        return done[-1] if done else None

    def postmortem(self, state: State) -> Json:
        at = r.stamp(state)
        svc = self.svc
        incident_id = r.incident(state).incident_id
        r.progress("postmortem: writing the report and its chart", incident_id=incident_id)
        with svc.state.connect() as conn:
            row = q.get_incident_row(conn, incident_id)
            logged = q.action_log_for(conn, incident_id)
        assert row is not None, "the incident this thread claimed exists"
        incident = q.incident_from_row(row)
        diagnosis = r.diagnosis(state)
        if diagnosis is not None:
            incident = incident.model_copy(
                update={
                    "root_cause": diagnosis.root_cause,
                    "root_cause_category": diagnosis.category,
                }
            )
        stored_timeline = q.incident_timeline(row)
        kept = self._written_before(incident_id, stored_timeline)
        if kept is not None:
            # a fork or re-run reached the end again: the report of this resolution stands
            return {
                "incident": r.incident_summary(incident),
                "postmortem_path": kept,
                "waiting_for": None,
                "notes": [f"post-mortem already written ({kept}); kept as it was"],
            }
        results = ledger_results(logged, r.results(state))
        closing = state.get("closing") or {}
        report = PostMortemInput(
            incident=incident,
            diagnosis=diagnosis,
            evidence=r.evidence(state),
            plan=r.plan(state),
            results=results,
            approvals=r.approvals(state),
            timeline=stored_timeline or r.timeline(state),
            usage=r.usage(state),
            runbook_hits=[RunbookHit.model_validate(h) for h in state.get("runbook_hits") or []],
            notes=list(state.get("notes") or []),
            **self._resolution_inputs(incident, logged, stored_timeline or r.timeline(state), at),
        )
        notes: list[str] = []
        resolution = (
            f"closed by {closing['by']} ({closing['how'].replace('_', ' ')}): {closing['reason']}"
            if closing
            else resolution_text(report)
        )
        written = write_postmortem(svc.settings, svc.stores, report, now=at, resolution=resolution)
        failed = store_incidents.mirror(svc.monitoring, svc.state, incident_id)
        if failed:
            notes.append(failed)
        with svc.state.connect() as conn:
            closed_row = q.get_incident_row(conn, incident_id)
        closed = q.incident_from_row(closed_row) if closed_row else incident
        actions.post_resolution(
            svc.stores,
            svc.settings,
            closed,
            now=at,
            root_cause=headline_of(diagnosis, closed.root_cause),
            resolution=resolution,
        )
        actions.publish_postmortem(svc.stores, svc.settings, closed, written.markdown, now=at)
        actions.deliver_pending(svc.state, svc.settings, now=at)
        try:
            from agentops.rag import add_incident

            add_incident(svc.monitoring, svc.settings, incident_id)
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
        category = closed.root_cause_category.value if closed.root_cause_category else "unknown"
        summary = (
            f"{closed.incident_id} {closed.severity.value} {closed.model_name}: {category} — "
            f"{closed.root_cause}. {len(done)} action(s) done"
            + (f", escalated to {', '.join(escalated)}" if escalated else "")
            + f". Status: {closed.status.value}. Post-mortem: {written.path}"
        )
        completed = TimelineEntry(phase="postmortem_completed", at=at, note=written.path)
        self._record(state, [r.dump(completed)])
        return {
            "incident": r.incident_summary(closed),
            "postmortem_path": written.path,
            "escalated_to": escalated,
            "summary": summary,
            "notes": notes,
            "waiting_for": None,
            "timeline": [r.dump(completed)],
        }


__all__ = ["ClosingNodes", "IncidentStatus", "ledger_results"]
