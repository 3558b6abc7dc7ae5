"""Walking the plan: `execute_action` runs one action per step through the ledger; before an
approval-required action it posts the request and stops; `request_approval` holds nothing but
`interrupt()` and the check of the answer.

A refused answer (no verified identity, not an approver, nobody configured) is recorded in
the timeline and the request is asked again as a new step: LangGraph keeps resume values per
interrupt within one node run, so asking twice inside one node would hand a stale, refused
answer back on the next resume.
"""

from __future__ import annotations

from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agentops import actions
from agentops.actions.runtime import replay
from agentops.clock import iso, parse_instant
from agentops.domain import Action, ActionResult, ActionType, Approval, IncidentStatus
from agentops.graph import records as r
from agentops.graph.approval import approval_payload, check_answer
from agentops.graph.base import NodeBase
from agentops.graph.context import ServerContext
from agentops.graph.edits import review_edit
from agentops.graph.identity import identity_of
from agentops.graph.state import Json, State
from agentops.store import incidents as store_incidents
from agentops.store import ledger

GATED_FAILURES = {"failed", "rejected", "skipped"}


def later_clock(state: State, answer: Any) -> Json:
    """A resume may carry the answering side's `now`; the run's clock only moves forward."""
    if isinstance(answer, dict) and answer.get("now"):
        given = parse_instant(answer["now"], what="now")
        if given > r.clock(state):
            return {"clock": iso(given)}
    return {}


class WalkNodes(NodeBase):
    # ---- execute_action ---------------------------------------------------------------------
    def execute_action(self, state: State, runtime: Runtime[ServerContext]) -> Json:
        """Run the action under the cursor (or stop before it for a human), then move on."""
        plan, cursor = r.plan(state), state.get("cursor", 0)
        if state.get("replan"):
            return {}  # an accepted edit changed the category: back to the plan
        if cursor >= len(plan.actions):
            return self._done(state, {})
        incident, action = r.incident(state), plan.actions[cursor]
        key = action.key(incident.incident_id)
        decision = r.decision_for(state, key)
        edited: Json = {}
        if action.requires_approval and (done := self._decided_before(state, action, key)):
            return self._done(state, done)
        if action.requires_approval:
            # a diagnosis edited since the plan was made is reviewed before anything that
            # needs a person is asked for or run (graph/edits.py)
            review = review_edit(self.svc, state)
            if review is not None and review.accepted and review.category_changed:
                return {**review.update, "replan": True, "pending_action": None}
            edited = review.update if review is not None else {}
        if action.requires_approval and decision is None:
            if state.get("pending_action") == key:
                return edited
            return _merged(self._ask(state, action, key, runtime), edited)
        if decision is not None and decision.decision == "reject":
            return _merged(
                self._done(state, self._rejected(state, action, decision, cursor)), edited
            )
        if decision is not None and decision.decision == "withdrawn":
            return _merged(
                self._done(state, self._withdrawn(state, action, decision, cursor)), edited
            )
        r.progress(
            f"running {action.type.value} → {action.target}", incident_id=incident.incident_id
        )
        result = actions.execute(
            self.svc.stores,
            self.svc.settings,
            incident,
            action,
            now=r.clock(state),
            approved_by=decision.approver if decision else None,
            approved_via=decision.via if decision else None,
            context=self._action_context(state),
        )
        update: Json = {"actions_taken": [r.dump(result)], "cursor": cursor + 1}
        if action.requires_approval:
            update["pending_action"] = None
        return _merged(self._done(state, update), edited)

    def _ask(self, state: State, action: Action, key: str, runtime: Runtime[ServerContext]) -> Json:
        incident = r.incident(state)
        approvers, roles = self._approvers(action, runtime)
        payload = approval_payload(state, action, approvers, roles)
        actions.request_approval(
            self.svc.stores,
            self.svc.settings,
            incident,
            action,
            payload,
            approvers=approvers,
            now=r.clock(state),
        )
        entry = r.timeline_entry(state, "approval_requested", _describe(action))
        with self.svc.state.begin() as conn:
            store_incidents.set_status(conn, incident.incident_id, IncidentStatus.awaiting_approval)
            store_incidents.set_incident_fields(
                conn,
                incident.incident_id,
                waiting_for="approval",
                waiting_detail=f"{action.type.value} → {action.target}",
            )
        self._record(state, [entry])
        return {"pending_action": key, "waiting_for": "approval", "timeline": [entry]}

    def _done(self, state: State, update: Json) -> Json:
        """When the cursor passes the last action, remediation is done: recovery is measured
        from here (windows ending after this clock)."""
        cursor = update.get("cursor", state.get("cursor", 0))
        if cursor < len(r.plan(state).actions) or state.get("remediation_done"):
            return update
        incident = r.incident(state)
        entry = r.timeline_entry(state, "remediation_done", f"plan of {cursor} step(s) walked")
        withdrawn = any(a.decision == "withdrawn" for a in r.approvals(state))
        # recovery counts windows after the remediation; a request withdrawn because the
        # incident recovered on its own changed nothing, so count from detection
        since = incident.opened_at if withdrawn else r.clock(state)
        with self.svc.state.begin() as conn:
            store_incidents.set_incident_fields(conn, incident.incident_id, remediated_at=since)
        self._record(state, [entry])
        timeline = [*update.get("timeline", []), entry]
        return {**update, "remediation_done": True, "timeline": timeline}

    def _decided_before(self, state: State, action: Action, key: str) -> Json | None:
        """The ledger already holds this action's outcome — a fork or re-run from an earlier
        checkpoint reached it again: what ran, ran (and what was refused stays refused).
        Nothing is asked, sent or escalated again; the thread moves on with the ledger's
        result."""
        with self.svc.state.connect() as conn:
            row = ledger.get(conn, key)
        if row is None or row["status"] == "started":
            return None  # never decided, or in doubt: the normal path reports it
        if r.decision_for(state, key) is not None and any(
            res.idempotency_key == key for res in r.results(state)
        ):
            return None  # this thread ran it: the cursor moves on as usual
        result = replay(row, action, key)
        entry = r.timeline_entry(
            state, "note", f"{key}: the action log already says {row['status']}; kept"
        )
        return {
            "actions_taken": [r.dump(result)],
            "cursor": state.get("cursor", 0) + 1,
            "pending_action": None,
            "timeline": [entry],
        }

    def _rejected(self, state: State, action: Action, decision: Approval, cursor: int) -> Json:
        incident, now = r.incident(state), r.clock(state)
        key = action.key(incident.incident_id)
        why = f"rejected by {decision.approver}" + (
            f": {decision.comment}" if decision.comment else ""
        )
        with self.svc.state.begin() as conn:
            claim = ledger.claim_action(
                conn,
                action,
                incident.incident_id,
                now=now,
                approved_by=decision.approver,
                approved_via=decision.via,
                detail=why,
            )
            if claim.fresh:
                ledger.finish(conn, key=key, status="rejected", now=now, detail=why)
            store_incidents.set_status(conn, incident.incident_id, IncidentStatus.escalated)
        refused = ActionResult(
            action=action,
            status="rejected",
            detail=why,
            approved_by=decision.approver,
            idempotency_key=key,
            executed_at=now,
        )
        # CONTRACT.md: a rejected approval leaves the incident to a person (ml_team_lead)
        handover = Action(
            type=ActionType.escalate,
            target="ml_team_lead",
            reason=f"{action.type.value} on {action.target} {why}; the incident needs a person",
            priority=action.priority,
            params={"reason_code": "approval_rejected"},
        )
        escalated = actions.execute(
            self.svc.stores,
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

    def _withdrawn(self, state: State, action: Action, decision: Approval, cursor: int) -> Json:
        incident, now = r.incident(state), r.clock(state)
        key = action.key(incident.incident_id)
        why = "not needed: the incident recovered before anyone answered"
        with self.svc.state.begin() as conn:
            claim = ledger.claim_action(conn, action, incident.incident_id, now=now, detail=why)
            if claim.fresh:
                ledger.finish(conn, key=key, status="skipped", now=now, detail=why)
        skipped = ActionResult(
            action=action, status="skipped", detail=why, idempotency_key=key, executed_at=now
        )
        return {"actions_taken": [r.dump(skipped)], "cursor": cursor + 1, "pending_action": None}

    # ---- request_approval: nothing but interrupt() and the check --------------------------------
    def request_approval(self, state: State, runtime: Runtime[ServerContext]) -> Json:
        plan, key = r.plan(state), state.get("pending_action")
        incident = r.incident(state)
        action = next(a for a in plan.actions if a.key(incident.incident_id) == key)
        # an edit made while the request waited (Studio forks the checkpoint and this node
        # runs again): reviewed before anyone's answer counts
        review = review_edit(self.svc, state)
        if review is not None and review.accepted and review.category_changed:
            return {**review.update, "replan": True, "pending_action": None}
        if review is not None:
            reviewed: State = {**state, **review.update}  # type: ignore[typeddict-item]
            return _merged(self._answer(reviewed, action, key, runtime), review.update)
        return self._answer(state, action, key, runtime)

    def _answer(
        self, state: State, action: Action, key: str | None, runtime: Runtime[ServerContext]
    ) -> Json:
        """Ask (the interrupt) and take the answer: a decision, a tick, a recovery."""
        approvers, roles = self._approvers(action, runtime)
        context = runtime.context
        if getattr(context, "auto_approve", False) and self.svc.allow_auto_approve:
            auto = Approval(
                action_key=str(key),
                decision="approve",
                approver=getattr(context, "auto_approver", "auto-approve"),
                via="auto",
                comment="auto-approved by the run's context",
                decided_at=r.stamp(state),
            )
            return self._decided(state, auto)
        answer = interrupt(approval_payload(state, action, approvers, roles))
        moved = later_clock(state, answer)
        kind = answer.get("kind") if isinstance(answer, dict) else None
        if kind == "tick":
            return moved
        if kind == "recovered":
            now_state: State = {**state, **moved}  # type: ignore[typeddict-item]
            withdrawn = Approval(
                action_key=str(key),
                decision="withdrawn",
                approver="agentops",
                via="recovery check",
                comment="the incident recovered before anyone answered",
                decided_at=r.stamp(now_state),
            )
            return {**moved, **self._decided(now_state, withdrawn)}
        checked = check_answer(
            answer,
            identity=identity_of(get_config(), trust_local=self.svc.trust_local_identity),
            approvers=approvers,
            action_key=str(key),
            at=r.stamp(state),
        )
        notes = [checked.note] if checked.note else []
        if checked.approval is None:
            entry = r.timeline_entry(state, "answer_refused", str(checked.problem))
            self._record(state, [entry])
            return {**moved, "notes": notes, "timeline": [entry]}
        return {**moved, "notes": notes, **self._decided(state, checked.approval)}

    def _decided(self, state: State, approval: Approval) -> Json:
        incident = r.incident(state)
        note = f"{approval.decision} by {approval.approver} ({approval.via})" + (
            f": {approval.comment}" if approval.comment else ""
        )
        entry = r.timeline_entry(state, "approval_decided", note)
        with self.svc.state.begin() as conn:
            store_incidents.set_incident_fields(
                conn, incident.incident_id, waiting_for=None, waiting_detail=None
            )
            store_incidents.set_status(conn, incident.incident_id, IncidentStatus.open)
        self._record(state, [entry])
        return {"approvals": [r.dump(approval)], "waiting_for": None, "timeline": [entry]}

    # ---- helpers ----------------------------------------------------------------------------
    def _approvers(
        self, action: Action, runtime: Runtime[ServerContext]
    ) -> tuple[tuple[str, ...], list[str]]:
        """The policy's approvers of this action (AGENTOPS_APPROVERS when the file names
        none), narrowed — never widened — by the run's context."""
        people = self.svc.policy().people
        allowed = people.approvers_for(action.type, self.svc.settings.approvers)
        if runtime.context.approvers:
            allowed = tuple(n for n in allowed if n in runtime.context.approvers)
        return allowed, people.approver_roles_for(action.type)

    def _action_context(self, state: State) -> dict[str, Any]:
        evidence = r.evidence(state)
        drift = sorted(
            (e for e in evidence if e.kind == "drift" and e.data.get("psi") is not None),
            key=lambda e: -float(e.data["psi"]),
        )
        plan = r.plan(state)
        return {
            "diagnosis": state.get("diagnosis"),
            "top_features": [
                {"feature": e.data.get("feature", e.id.split(":", 1)[-1]), "psi": e.data["psi"]}
                for e in drift[:3]
            ],
            "plan_steps": [(a.type.value, a.target, a.requires_approval) for a in plan.actions],
        }


def _describe(action: Action) -> str:
    return f"{action.type.value} → {action.target}: {action.reason}"


def _merged(update: Json, edited: Json) -> Json:
    """`update` plus a reviewed edit's keys (their timeline entries and notes added)."""
    if not edited:
        return update
    out = {**edited, **update}
    for key in ("timeline", "notes"):
        if key in edited or key in update:
            out[key] = [*edited.get(key, []), *update.get(key, [])]
    return out
