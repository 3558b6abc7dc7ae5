"""The lifecycle's first half: detect, page, triage, investigate, remediate (the plan).

Each node returns a partial update and never mutates its input. Side effects (the page,
thread replies) go through the action ledger, so a node re-run by a resume, a retry or a
restarted process finds the earlier result instead of acting twice. The second half lives in
`walk.py` (executing the plan, approvals), `recovery.py` (verify, the durable wait) and
`closing.py` (the post-mortem).
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from agentops import actions
from agentops.actions.formats import format_finding
from agentops.agents import gather_evidence, symptom_query, with_references
from agentops.agents.diagnostic import AgentOutcome, diagnose
from agentops.agents.planner import plan as plan_actions
from agentops.clock import iso, parse_instant, utcnow
from agentops.detection import detect_incidents
from agentops.domain import Incident, IncidentStatus
from agentops.errors import AgentOpsError, DataError
from agentops.graph import records as r
from agentops.graph.base import NodeBase
from agentops.graph.context import ServerContext
from agentops.graph.edits import review_edit, written
from agentops.graph.state import Json, State
from agentops.store import incidents as store_incidents
from agentops.store import queries as q

# evidence the first look (triage) uses, as the seed's triage does: the metrics, the runbooks
# and similar past incidents; investigation adds data quality, deployments and pipeline runs
TRIAGE_KINDS = {"alert", "metric", "drift", "runbook", "incident"}


def _agent_notes(phase: str, outcome: AgentOutcome) -> list[str]:
    """The agent's note, each claim code refused and each tool call refused (a query the SQL
    guard stopped), on its own line (the report lists them): a refusal is never only implied
    by a fallback."""
    refused = [f"{phase}: refused {claim}" for claim in outcome.refused]
    tools = [f"{phase}: a tool call was refused or failed: {e}" for e in outcome.tool_errors]
    return [n for n in (outcome.note, *refused, *tools) if n]


class DiagnosisNodes(NodeBase):
    """detect → page → triage → investigate → remediate."""

    # ---- detect ---------------------------------------------------------------------------
    def detect(self, state: State, config: RunnableConfig) -> Json:
        """Claim the incident this thread handles: the one the scheduler assigned
        (`incident_id`), else the most severe unclaimed one a scan finds."""
        thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
        if state.get("incident"):  # a thread re-submitted after it started: nothing restarts
            return self._resubmitted(state)
        given = state.get("now")
        now = parse_instant(given, what="now") if given else utcnow()
        base: Json = {
            "clock": iso(now),
            "started_wall": iso(utcnow()),
            "waiting_for": None,
            "resubmitted": False,
        }
        thresholds = self.svc.thresholds()  # a bad policy file fails before anything is claimed
        self.svc.policy()
        wanted = state.get("incident_id")
        alerts: list[Json] = []
        claimed: Incident | None
        if wanted:
            claimed = self._claim(wanted, thread_id)
        else:
            found = detect_incidents(self.svc.stores, now, state.get("model_name"), thresholds)
            alerts = [r.dump(a) for a in found.alerts]
            claimed = self._claim_most_severe(state.get("model_name"), thread_id)
            if claimed is None:
                why = (
                    "alerts joined open incident(s) already being handled"
                    if found.alerts
                    else "nothing crossed a threshold"
                )
                return {**base, "alerts": alerts, "incident": None, "summary": why}
        incident = claimed
        state_now: State = {**state, **base}  # type: ignore[typeddict-item]
        listed = ", ".join(f"{a.type.value}:{a.component}={a.value}" for a in incident.alerts)
        entry = r.timeline_entry(state_now, "detected", listed)
        entry["at"] = iso(incident.opened_at)  # detection happened when the incident opened
        self._record(state_now, [entry], incident.incident_id)
        return {
            **base,
            "alerts": alerts,
            "incident": r.dump(incident),
            "summary": f"{incident.incident_id} claimed",
            "timeline": [entry],
        }

    def _claim(self, incident_id: str, thread_id: str) -> Incident:
        with self.svc.state.begin() as conn:
            row = q.get_incident_row(conn, incident_id)
            if row is None:
                raise DataError(f"incident_id: no incident {incident_id!r} in the state store")
            if not store_incidents.claim_incident(conn, incident_id, thread_id):
                raise DataError(
                    f"incident_id: {incident_id} is handled by thread {row['thread_id']}"
                )
        return q.incident_from_row(row)

    def _claim_most_severe(self, model_name: str | None, thread_id: str) -> Incident | None:
        from agentops.store.claims import unclaimed_incident_ids

        with self.svc.state.begin() as conn:
            for incident_id in unclaimed_incident_ids(conn, model_name):
                if store_incidents.claim_incident(conn, incident_id, thread_id):
                    row = q.get_incident_row(conn, incident_id)
                    return q.incident_from_row(row) if row else None
        return None

    def _resubmitted(self, state: State) -> Json:
        incident = r.incident(state)
        with self.svc.state.connect() as conn:
            row = q.get_incident_row(conn, incident.incident_id)
        status = row["status"] if row else "unknown"
        return {
            "resubmitted": True,
            "summary": f"this thread handles {incident.incident_id} ({status}); it goes on "
            "from where it stopped, nothing is repeated",
        }

    # ---- page -----------------------------------------------------------------------------
    def page(self, state: State) -> Json:
        """The alert, before any model is asked anything (no-op when the pass paged it)."""
        incident = r.incident(state)
        result = actions.page_incident(
            self.svc.stores, self.svc.settings, incident, now=r.clock(state)
        )
        entry = r.timeline_entry(state, "paged", result.detail)
        self._record(state, [entry])
        return {"timeline": [entry]}

    # ---- triage and investigate -------------------------------------------------------------
    def triage(self, state: State, runtime: Runtime[ServerContext]) -> Json:
        incident, now = r.incident(state), r.clock(state)
        thresholds = self.svc.thresholds()
        r.progress("triage: gathering evidence", incident_id=incident.incident_id)
        # gathered once: triage reasons on the first look; investigation adds the rest
        with self.svc.monitoring.connect() as conn:
            evidence = gather_evidence(conn, incident, now, thresholds=thresholds)
        evidence, reference_notes = self._references(incident, evidence)
        r.progress(
            "triage: diagnosing",
            incident_id=incident.incident_id,
            evidence=len(evidence),
            by=self._by(runtime),
        )
        # the model sees the first look; a category it claims must fit everything gathered
        outcome = diagnose(
            incident,
            [e for e in evidence if e.kind in TRIAGE_KINDS],
            model=self.svc.chat_model(runtime.context.model),
            tools=self._tools(state),
            phase="triage",
            budget_s=self._budget(state),
            facts=evidence,
        )
        found = outcome.diagnosis
        self._reply(state, "triage", format_finding(incident, found, "triage"))
        entry = r.timeline_entry(state, "triage_started", outcome.note)
        self._record(state, [entry])
        return {
            "diagnosis": r.dump(found),
            "evidence": [r.dump(e) for e in evidence],
            "messages": outcome.messages,
            **r.usage_update(state, "triage", outcome.usage),
            "notes": [*_agent_notes("triage", outcome), *reference_notes],
            "timeline": [entry],
        }

    def _references(self, incident: Incident, evidence: list[Any]) -> tuple[list[Any], list[str]]:
        """The runbooks and similar past incidents the seed's triage consults, as evidence
        a diagnosis may cite; a search that fails only weakens it (and says so)."""
        query = symptom_query(incident, evidence)
        notes: list[str] = []
        index = self.svc.runbook_index()
        runbook_hits = index.search(query, k=3) if index is not None else []
        if index is None:
            notes.append(f"runbook search unavailable: {self.svc.index_error}")
        try:
            incident_hits = self.svc.similar_incidents(query, 3, exclude=(incident.incident_id,))
        except AgentOpsError as exc:
            incident_hits = []
            notes.append(f"past-incident search unavailable: {exc}")
        referenced = with_references(
            evidence, runbook_hits=runbook_hits, incident_hits=incident_hits
        )
        return referenced, notes

    def investigate(self, state: State, runtime: Runtime[ServerContext]) -> Json:
        incident, evidence = r.incident(state), r.evidence(state)
        r.progress(
            "investigate: testing hypotheses",
            incident_id=incident.incident_id,
            by=self._by(runtime),
            budget_s=round(self._budget(state)),
        )
        outcome = diagnose(
            incident,
            evidence,
            model=self.svc.chat_model(runtime.context.model),
            tools=self._tools(state),
            phase="investigate",
            prior=r.diagnosis(state),
            budget_s=self._budget(state),
        )
        found = outcome.diagnosis
        hits, notes = self._runbook_hits(found.category.value, found.root_cause, incident)
        with self.svc.state.begin() as conn:
            store_incidents.set_incident_fields(
                conn,
                incident.incident_id,
                root_cause=found.root_cause,
                root_cause_category=found.category.value,
            )
        store_incidents.mirror(self.svc.monitoring, self.svc.state, incident.incident_id)
        self._reply(state, "investigation", format_finding(incident, found, "investigate"))
        dumped = r.dump(found)
        entry = r.timeline_entry(
            state, "root_cause_identified", f"{found.category.value}: {found.root_cause}"
        )
        self._record(state, [entry])
        return {
            **written(found),
            "diagnosis_written": dumped,
            "runbook_hits": hits,
            "messages": outcome.messages,
            **r.usage_update(state, "investigate", outcome.usage),
            "notes": [*_agent_notes("investigate", outcome), *notes],
            "timeline": [entry],
        }

    # ---- remediate (the plan) -----------------------------------------------------------------
    def remediate(self, state: State, runtime: Runtime[ServerContext]) -> Json:
        # a person may have edited the diagnosis since (Studio): reviewed before any plan
        review = review_edit(self.svc, state)
        edited: Json = review.update if review else {}
        if review:
            state = {**state, "diagnosis": edited["diagnosis"]}
        incident, diagnosis = r.incident(state), r.diagnosis(state)
        assert diagnosis is not None, "investigate always sets a diagnosis"
        r.progress("remediate: planning", incident_id=incident.incident_id, by=self._by(runtime))
        outcome = plan_actions(
            incident,
            diagnosis,
            model=self.svc.chat_model(runtime.context.model),
            runbook_text=self._runbook_text(state),
            evidence=r.evidence(state),
            settings=self.svc.settings,
            budget_s=self._budget(state),
        )
        planned = ", ".join(a.type.value for a in outcome.plan.actions)
        entry = r.timeline_entry(state, "remediation_started", planned)
        self._record(state, [entry])
        with self.svc.state.begin() as conn:
            store_incidents.set_incident_fields(
                conn, incident.incident_id, waiting_for=None, waiting_detail=None
            )
            store_incidents.set_status(conn, incident.incident_id, IncidentStatus.open)
        return {
            **edited,
            "action_plan": r.dump(outcome.plan),
            "cursor": 0,
            "pending_action": None,
            "replan": False,
            **r.usage_update(state, "plan", outcome.usage),
            "notes": [*edited.get("notes", []), *([outcome.note] if outcome.note else [])],
            "timeline": [*edited.get("timeline", []), entry],
        }

    # ---- helpers ----------------------------------------------------------------------------
    def _by(self, runtime: Runtime[ServerContext]) -> str:
        """Who reasons: the configured model's id, or the rules."""
        return self.svc.model_label(runtime.context.model)

    def _budget(self, state: State) -> float:
        """Seconds left of the incident's diagnosis budget, counted from its start."""
        started = parse_instant(state["started_wall"], what="started_wall")
        spent = (utcnow() - started).total_seconds()
        return max(self.svc.settings.diagnosis_budget_s - spent, 0.0)

    def _reply(self, state: State, kind: str, text: str) -> None:
        actions.post_reply(
            self.svc.stores, self.svc.settings, r.incident(state), kind, text, now=r.clock(state)
        )

    def _tools(self, state: State) -> list[Any]:
        from agentops.tools import build_tools

        incident = r.incident(state)
        return build_tools(
            self.svc.monitoring,
            incident,
            r.clock(state),
            thresholds=self.svc.thresholds(),
            runbooks=self.svc.runbook_retriever(),
            similar_incidents=lambda text, k: self.svc.similar_incidents(
                text, k, exclude=(incident.incident_id,)
            ),
        )

    def _runbook_hits(
        self, category: str, root_cause: str, incident: Incident
    ) -> tuple[list[Json], list[str]]:
        index = self.svc.runbook_index()
        if index is None:
            return [], [f"runbook search unavailable: {self.svc.index_error}"]
        types = " ".join(t.value for t in incident.alert_types)
        query = f"{category.replace('_', ' ')} {types}: {root_cause}"
        hits = index.search(query, k=3)
        return [
            {"runbook": h.runbook, "section": h.section, "score": round(float(h.score), 4)}
            for h in hits
        ], []

    def _runbook_text(self, state: State) -> str:
        hits = state.get("runbook_hits") or []
        if not hits:
            return ""
        from agentops.rag import runbook_text

        try:
            return runbook_text(self.svc.settings, hits[0]["runbook"])
        except AgentOpsError:  # a missing runbook only weakens the plan; the rules still apply
            return ""
