"""The lifecycle's nodes. Each returns a partial update and never mutates its input.

Side effects (Slack, GitHub, the model registry) happen only in `execute_action` and
`postmortem`, never in `request_approval`, which holds nothing but `interrupt()`; and each
goes through the action ledger, so a node re-run by a resume, a retry or a restarted
process finds the earlier result instead of acting twice.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agentops import actions
from agentops.agents import gather_evidence
from agentops.agents.diagnostic import diagnose
from agentops.agents.planner import plan as plan_actions
from agentops.clock import iso, parse_instant, utcnow
from agentops.detection import detect_incidents
from agentops.domain import (
    Action,
    ActionResult,
    ActionType,
    Approval,
    IncidentStatus,
    TimelineEntry,
)
from agentops.errors import AgentOpsError
from agentops.graph import records as r
from agentops.graph.approval import approval_payload, effective_approvers, validate_resume
from agentops.graph.context import Context
from agentops.graph.services import Services
from agentops.graph.state import Json, State
from agentops.store import incidents as store_incidents
from agentops.store import ledger
from agentops.store import queries as q

# evidence the first look (triage) uses; investigation adds drift, data quality and changes
TRIAGE_KINDS = {"alert", "metric", "drift"}


class Nodes:
    """The nodes, bound to the services they share."""

    def __init__(self, services: Services) -> None:
        self.svc = services

    # ---- detect ---------------------------------------------------------------------------
    def detect(self, state: State, config: RunnableConfig) -> Json:
        given = state.get("now")
        now = parse_instant(given, what="now") if given else utcnow()
        base: Json = {"clock": iso(now), "started_wall": iso(utcnow())}
        found = detect_incidents(
            self.svc.engine, now, state.get("model_name"), self.svc.thresholds()
        )
        base["alerts"] = [r.dump(a) for a in found.alerts]
        thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
        change = None
        with self.svc.engine.begin() as conn:
            # the most severe incident this pass changed, else one opened earlier that no
            # thread took yet (a pass opens one per model; each gets its own thread)
            for reopened in (c for c in found.changes if c.reopened):  # a flap back: new thread
                store_incidents.set_incident_fields(
                    conn, reopened.incident.incident_id, thread_id=None
                )
            unclaimed = store_incidents.unclaimed_incident_ids(
                conn, state.get("model_name"), thread_id
            )
            candidates = [c for c in found.changes if c.incident.incident_id in unclaimed]
            for candidate in candidates:
                if store_incidents.claim_incident(conn, candidate.incident.incident_id, thread_id):
                    change = candidate.incident
                    break
            if change is None:
                for incident_id in unclaimed:
                    if store_incidents.claim_incident(conn, incident_id, thread_id):
                        row = q.get_incident_row(conn, incident_id)
                        change = q.incident_from_row(row) if row else None
                        break
        if change is None:
            grew = [c.incident.incident_id for c in found.changes]
            why = (
                f"alerts joined the open incident(s) {', '.join(grew)}, already being handled"
                if grew
                else "nothing crossed a threshold"
            )
            return {**base, "incident": None, "summary": why, "actions_taken": []}
        state_now: State = {**state, **base}  # type: ignore[typeddict-item]
        alerts = ", ".join(f"{a.type.value}:{a.component}={a.value}" for a in change.alerts)
        return {
            **base,
            "incident": r.dump(change),
            "timeline": [r.timeline_entry(state_now, "detected", alerts)],
        }

    # ---- triage and investigate -------------------------------------------------------------
    def triage(self, state: State, runtime: Runtime[Context]) -> Json:
        incident, now = r.incident(state), r.clock(state)
        # gathered once: triage reasons on the first look; investigation adds the rest
        with self.svc.engine.connect() as conn:
            evidence = gather_evidence(conn, incident, now)
        outcome = diagnose(
            incident,
            [e for e in evidence if e.kind in TRIAGE_KINDS],
            model=self.svc.chat_model(runtime.context.model),
            tools=self._tools(state),
            phase="triage",
        )
        return {
            "diagnosis": r.dump(outcome.diagnosis),
            "evidence": [r.dump(e) for e in evidence],
            "messages": outcome.messages,
            "llm_usage": outcome.usage.model_dump(),
            "notes": [outcome.note] if outcome.note else [],
            "timeline": [r.timeline_entry(state, "triage_started", outcome.note)],
        }

    def investigate(self, state: State, runtime: Runtime[Context]) -> Json:
        incident, evidence = r.incident(state), r.evidence(state)
        outcome = diagnose(
            incident,
            evidence,
            model=self.svc.chat_model(runtime.context.model),
            tools=self._tools(state),
            phase="investigate",
            prior=r.diagnosis(state),
        )
        found = outcome.diagnosis
        hits, notes = self._runbook_hits(found.category.value, found.root_cause, incident)
        with self.svc.engine.begin() as conn:
            store_incidents.set_incident_fields(
                conn,
                incident.incident_id,
                root_cause=found.root_cause,
                root_cause_category=found.category.value,
            )
        return {
            "diagnosis": r.dump(found),
            "runbook_hits": hits,
            "messages": outcome.messages,
            "llm_usage": outcome.usage.model_dump(),
            "notes": [outcome.note, *notes] if outcome.note else notes,
            "timeline": [
                r.timeline_entry(
                    state, "root_cause_identified", f"{found.category.value}: {found.root_cause}"
                )
            ],
        }

    # ---- remediate --------------------------------------------------------------------------
    def remediate(self, state: State, runtime: Runtime[Context]) -> Json:
        incident, diagnosis = r.incident(state), r.diagnosis(state)
        assert diagnosis is not None, "investigate always sets a diagnosis"
        outcome = plan_actions(
            incident,
            diagnosis,
            model=self.svc.chat_model(runtime.context.model),
            runbook_text=self._runbook_text(state),
            evidence=r.evidence(state),
            settings=self.svc.settings,
        )
        planned = ", ".join(a.type.value for a in outcome.plan.actions)
        return {
            "action_plan": r.dump(outcome.plan),
            "cursor": 0,
            "pending_action": None,
            "llm_usage": outcome.usage.model_dump(),
            "notes": [outcome.note] if outcome.note else [],
            "timeline": [r.timeline_entry(state, "remediation_started", planned)],
        }

    def execute_action(self, state: State, runtime: Runtime[Context]) -> Json:
        """Walk the plan one action per step: run automated ones; stop before an
        approval-required one until a decision is recorded; then run or refuse it."""
        plan, cursor = r.plan(state), state.get("cursor", 0)
        if cursor >= len(plan.actions):
            return {}
        incident, action = r.incident(state), plan.actions[cursor]
        key = action.key(incident.incident_id)
        decision = r.decision_for(state, key)
        if action.requires_approval and decision is None:
            if state.get("pending_action") == key:
                return {}
            with self.svc.engine.begin() as conn:
                store_incidents.set_incident_fields(
                    conn, incident.incident_id, status=IncidentStatus.awaiting_approval.value
                )
                store_incidents.set_timeline(
                    conn,
                    incident.incident_id,
                    [*r.timeline(state), _entry(state, "approval_requested", action)],
                )
            return {
                "pending_action": key,
                "timeline": [r.timeline_entry(state, "approval_requested", _describe(action))],
            }
        if decision is not None and decision.decision == "reject":
            return self._rejected(state, action, decision, cursor)
        approvers = effective_approvers(self.svc.settings, runtime.context)
        result = actions.execute(
            self.svc.engine,
            self.svc.settings.model_copy(update={"approvers": approvers}),
            incident,
            action,
            now=r.clock(state),
            approved_by=decision.approver if decision else None,
            context=self._action_context(state),
        )
        return {"actions_taken": [r.dump(result)], "cursor": cursor + 1, "pending_action": None}

    def _rejected(self, state: State, action: Action, decision: Approval, cursor: int) -> Json:
        incident, now = r.incident(state), r.clock(state)
        key = action.key(incident.incident_id)
        why = f"rejected by {decision.approver}" + (
            f": {decision.comment}" if decision.comment else ""
        )
        with self.svc.engine.begin() as conn:
            claim = ledger.claim_action(conn, action, incident.incident_id, now=now, detail=why)
            if claim.fresh:
                ledger.finish(conn, key=key, status="rejected", now=now, detail=why)
            store_incidents.set_incident_fields(
                conn, incident.incident_id, status=IncidentStatus.escalated.value
            )
        refused = ActionResult(
            action=action, status="rejected", detail=why, idempotency_key=key, executed_at=now
        )
        # CONTRACT.md: a rejected approval leaves the incident to a person (ml_team_lead)
        handover = Action(
            type=ActionType.escalate,
            target="ml_team_lead",
            reason=f"{action.type.value} on {action.target} {why}; the incident needs a person",
            priority=action.priority,
        )
        escalated = actions.execute(
            self.svc.engine,
            self.svc.settings,
            incident,
            handover,
            now=now,
            context=self._action_context(state),
        )
        return {
            "actions_taken": [r.dump(refused), r.dump(escalated)],
            "cursor": cursor + 1,
            "pending_action": None,
            "timeline": [r.timeline_entry(state, "escalated", f"ml_team_lead: {why}")],
        }

    # ---- request_approval: nothing but interrupt() -------------------------------------------
    def request_approval(self, state: State, runtime: Runtime[Context]) -> Json:
        plan, key = r.plan(state), state.get("pending_action")
        action = next(a for a in plan.actions if a.key(r.incident(state).incident_id) == key)
        approvers = effective_approvers(self.svc.settings, runtime.context)
        if runtime.context.auto_approve and self.svc.allow_auto_approve:
            answer: Any = {
                "decision": "approve",
                "approver": runtime.context.auto_approver,
                "comment": "auto-approved by the run's context",
            }
            approvers = (*approvers, runtime.context.auto_approver)
        else:
            answer = None
        payload = approval_payload(state, action, approvers)
        problem: str | None = None
        while True:
            if answer is None:
                answer = interrupt({**payload, "problem": problem} if problem else payload)
            approval, problem = validate_resume(answer, approvers, str(key), r.stamp(state))
            if approval is not None:
                break
            answer = None
        note = f"{approval.decision} by {approval.approver}" + (
            f": {approval.comment}" if approval.comment else ""
        )
        return {
            "approvals": [r.dump(approval)],
            "timeline": [r.timeline_entry(state, "approval_decided", note)],
        }

    # ---- postmortem -------------------------------------------------------------------------
    def postmortem(self, state: State) -> Json:
        from agentops.graph.closing import close_incident

        return close_incident(self.svc, state)

    # ---- helpers ----------------------------------------------------------------------------
    def _tools(self, state: State) -> list[Any]:
        from agentops.tools import build_tools

        return build_tools(
            self.svc.engine,
            r.incident(state),
            r.clock(state),
            runbooks=self.svc.runbook_retriever(),
            similar_incidents=lambda text, k: self.svc.similar_incidents(
                text, k, exclude=(r.incident(state).incident_id,)
            ),
        )

    def _runbook_hits(
        self, category: str, root_cause: str, incident: Any
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

    def _action_context(self, state: State) -> dict[str, Any]:
        evidence = r.evidence(state)
        drift = sorted(
            (e for e in evidence if e.kind == "drift" and e.data.get("psi") is not None),
            key=lambda e: -float(e.data["psi"]),
        )
        return {
            "diagnosis": state.get("diagnosis"),
            "top_features": [
                {"feature": e.data.get("feature", e.id.split(":", 1)[-1]), "psi": e.data["psi"]}
                for e in drift[:3]
            ],
        }


def _describe(action: Action) -> str:
    return f"{action.type.value} → {action.target}: {action.reason}"


def _entry(state: State, phase: str, action: Action) -> TimelineEntry:
    return TimelineEntry.model_validate(
        {"phase": phase, "at": r.stamp(state), "note": _describe(action)}
    )
