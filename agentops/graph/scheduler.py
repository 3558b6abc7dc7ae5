"""One scheduler pass (CONTRACT.md, "Operating an incident"), the same for `agentops run`,
a `watch` tick, an eval case's step and the server's cron:

1. resume threads that wait: answers people recorded, recovery checks at this clock (an
   awaiting-approval incident that recovered has its request withdrawn);
2. the SLA sweep;
3. detection: one scan of the fleet;
4. page every new incident (before any model is asked anything);
5. handle every claimable incident — new ones and those whose worker died mid-way — P1
   before P2 before P3, each in its own thread, given its incident so it never re-scans.

Every thread runs under this worker's lease; a failure in one incident is recorded and the
pass goes on with the others.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from agentops import actions
from agentops.actions.jobs import start_ready_jobs
from agentops.actions.policy import load_policy
from agentops.clock import iso, utcnow
from agentops.detection import Detection, detect_incidents, load_threshold_set
from agentops.detection.recovery import check_recovery
from agentops.domain import ActionResult
from agentops.errors import AgentOpsError
from agentops.graph.builder import IncidentGraph
from agentops.graph.context import Context
from agentops.graph.identity import Identity
from agentops.graph.runner import (
    Lease,
    OnEvent,
    RunResult,
    advance,
    config_for,
    drive,
    snapshot,
)
from agentops.graph.storms import close_storms, page_new
from agentops.settings import Settings
from agentops.store import Stores, claims
from agentops.store import answers as store_answers
from agentops.store import incidents as store_incidents
from agentops.store import queries as q

log = logging.getLogger("agentops.scheduler")

# How a pass answers an approval request by itself (evals, the demo): an answer, or None
# for "nobody answers now".
Decide = Callable[[dict[str, Any]], dict[str, Any] | None]
MAX_ANSWERS_PER_THREAD = 10


@dataclass
class PassReport:
    now: datetime
    detection: Detection = field(default_factory=Detection)
    paged: list[str] = field(default_factory=list)
    handled: list[RunResult] = field(default_factory=list)
    resumed: list[RunResult] = field(default_factory=list)
    escalations: list[ActionResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[RunResult]:
        return [*self.resumed, *self.handled]


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        graph: IncidentGraph,
        stores: Stores,
        *,
        owner: str,
        context: Context | None = None,
        decide: Decide | None = None,
        decider: Identity | None = None,
        on_event: OnEvent | None = None,
    ) -> None:
        self.settings, self.graph, self.stores = settings, graph, stores
        self.owner = owner
        self.context = context or Context()
        self.decide, self.decider = decide, decider
        self.on_event = on_event
        self.lease = Lease(stores, owner, settings.lease_s)

    # ---- the pass ---------------------------------------------------------------------------
    def run_pass(self, now: datetime, model_name: str | None = None) -> PassReport:
        thresholds = load_threshold_set(self.settings)  # a bad policy file fails here, first
        load_policy(self.settings)
        report = PassReport(now=now)
        with self.lease:
            self._apply_answers(report)
            self._resume_waiting(report, now, model_name)
            report.escalations = actions.sweep(self.stores, self.settings, now=now)
            start_ready_jobs(self.stores, self.settings, now)
            report.detection = detect_incidents(self.stores, now, model_name, thresholds)
            actions.report_findings(self.stores, self.settings, report.detection.findings, now=now)
            report.paged = page_new(self.stores, self.settings, report.detection, now, thresholds)
            self._handle_claimable(report, now, model_name)
            close_storms(self.stores, self.settings, now)
        actions.deliver_pending(self.stores.state, self.settings, now=now)
        return report

    def _handle_claimable(self, report: PassReport, now: datetime, model: str | None) -> None:
        wall = utcnow()
        with self.stores.state.connect() as conn:
            fresh = claims.unclaimed_incident_ids(conn, model)
            stopped = claims.stranded(conn, wall, model)
            rows = {r["incident_id"]: r for r in stopped}
            for incident_id in fresh:
                row = q.get_incident_row(conn, incident_id)
                if row is not None:
                    rows[incident_id] = row
        order = {"P1": 0, "P2": 1, "P3": 2}
        ranked = sorted(
            rows.values(),
            key=lambda r: (
                order.get(r["severity"], 3),
                r["opened_at"],
                len(r["incident_id"]),
                r["incident_id"],
            ),
        )
        for row in ranked:
            self._guarded(report, row["incident_id"], partial(self._handle, report, row, now))

    def _handle(self, report: PassReport, row: dict[str, Any], now: datetime) -> None:
        incident_id = row["incident_id"]
        thread_id = row.get("thread_id") or self._new_thread(incident_id)
        if not self.lease.take(incident_id, thread_id):
            return  # another worker took it first
        try:
            current = self.graph.get_state(config_for(thread_id))
            if current.interrupts or (current.values and not current.next):
                return  # read before another worker took it to a wait or to its end
            if current.next:
                result = drive(self.graph, thread_id, None, self.context, on_event=self.on_event)
            else:
                start = {"incident_id": incident_id, "now": iso(now)}
                result = advance(self.graph, thread_id, start, self.context, on_event=self.on_event)
            result = self._answer_approvals(result)
            report.handled.append(result)
        finally:
            self.lease.release(incident_id)

    def _new_thread(self, incident_id: str) -> str:
        """The incident's thread: derived from its id; a reopened incident gets the next
        generation (its earlier thread has ended)."""
        for generation in range(100):
            thread_id = store_incidents.thread_for(incident_id, generation)
            if not self.graph.get_state(config_for(thread_id)).values:
                return thread_id
        raise AgentOpsError(f"{incident_id}: reopened more than 100 times")

    # ---- resuming what waits ------------------------------------------------------------------
    def _resume_waiting(self, report: PassReport, now: datetime, model: str | None) -> None:
        with self.stores.state.connect() as conn:
            rows = claims.waiting(conn, utcnow(), model)
        for row in rows:
            self._guarded(report, row["incident_id"], partial(self._resume, report, row, now))

    def _resume(self, report: PassReport, row: dict[str, Any], now: datetime) -> None:
        incident_id, thread_id = row["incident_id"], row["thread_id"]
        waiting = row["waiting_for"]
        if waiting == "approval" and self._edited(thread_id):
            # a person edited the state while the request waited (Studio): the request is
            # gone and the thread goes on from the edit, which it reviews first
            if not self.lease.take(incident_id, thread_id):
                return
            try:
                result = drive(self.graph, thread_id, None, self.context, on_event=self.on_event)
                report.resumed.append(self._answer_approvals(result))
            finally:
                self.lease.release(incident_id)
            return
        if waiting == "approval" and self.decide is not None:
            if not self.lease.take(incident_id, thread_id):
                return
            try:
                report.resumed.append(self._answer_approvals(snapshot(self.graph, thread_id)))
            finally:
                self.lease.release(incident_id)
            return
        if waiting == "approval":
            if not self._recovered(row, now):
                return  # still waiting for a person; the sweep escalates an overdue answer
            value: dict[str, Any] = {"kind": "recovered", "now": iso(now)}
        elif waiting == "recovery":
            value = {"kind": "tick", "now": iso(now)}
        else:
            return  # waiting for a person: their answer resumes it
        if not self.lease.take(incident_id, thread_id):
            return
        try:
            result = drive(self.graph, thread_id, value, self.context, on_event=self.on_event)
            report.resumed.append(result)
        finally:
            self.lease.release(incident_id)

    def _edited(self, thread_id: str) -> bool:
        """Waiting for an approval in the store, yet no request pending in the thread and a
        next step to run: the state was edited at the request."""
        current = self.graph.get_state(config_for(thread_id))
        return bool(current.next) and not current.interrupts

    def _recovered(self, row: dict[str, Any], now: datetime) -> bool:
        """Whether an incident waiting for approval has recovered since it opened."""
        incident = q.incident_from_row(row)
        thresholds = load_threshold_set(self.settings).for_model(incident.model_name)
        since = row.get("remediated_at") or incident.opened_at
        with self.stores.monitoring.connect() as conn:
            return check_recovery(
                conn, incident, since=since, now=now, thresholds=thresholds
            ).recovered

    def _answer_approvals(self, result: RunResult) -> RunResult:
        """With a `decide` callback (evals, the demo), answer each approval request now."""
        for _ in range(MAX_ANSWERS_PER_THREAD):
            if self.decide is None or result.waiting_for != "approval" or result.pending is None:
                break
            answer = self.decide(result.pending)
            if answer is None:
                break
            result = drive(
                self.graph,
                result.thread_id,
                answer,
                self.context,
                identity=self.decider,
                on_event=self.on_event,
            )
        return result

    def _apply_answers(self, report: PassReport) -> None:
        with self.stores.state.connect() as conn:
            pending = store_answers.unapplied(conn)
        for row in pending:
            self._guarded(report, row["incident_id"], partial(self.apply_answer, row))

    def apply_answer(self, row: dict[str, Any]) -> RunResult | None:
        """Resume the answer's thread with it, as the person who gave it; mark it applied
        with the outcome ("decided ..." / "refused ..." / "no longer pending")."""
        thread_id, incident_id = row["thread_id"], row["incident_id"]
        if not self.lease.take(incident_id, thread_id):
            return None  # a live worker runs the thread; the next pass applies it
        with self.stores.state.connect() as conn:
            current = store_answers.get_answer(conn, row["answer_id"])
        if current is None or current.get("applied_at") is not None:
            self.lease.release(incident_id)  # another worker applied it meanwhile
            return None
        try:
            before = snapshot(self.graph, thread_id)
            pending = before.pending or {}
            outcome = "no longer pending"
            result: RunResult | None = None
            identity = Identity(row["person"], row["via"])
            if row["kind"] == "approval" and pending.get("kind") == "approval_request":
                key = before.state.get("pending_action")
                if key == row["action_key"]:
                    result = drive(
                        self.graph,
                        thread_id,
                        store_answers.resume_value(row),
                        self.context,
                        identity=identity,
                        on_event=self.on_event,
                    )
                    outcome = _approval_outcome(result, row["action_key"])
            elif row["kind"] == "control" and pending.get("kind") == "recovery_check":
                result = drive(
                    self.graph,
                    thread_id,
                    store_answers.resume_value(row),
                    self.context,
                    identity=identity,
                    on_event=self.on_event,
                )
                outcome = "decided" if result.state.get("closing") else "refused"
            with self.stores.state.begin() as conn:
                store_answers.mark_applied(conn, row["answer_id"], at=utcnow(), outcome=outcome)
            return result
        finally:
            self.lease.release(incident_id)

    def _guarded(self, report: PassReport, incident_id: str, work: Callable[[], object]) -> None:
        """One incident's failure is recorded and the pass goes on with the others."""
        try:
            work()
        except AgentOpsError as exc:
            report.errors.append(f"{incident_id}: {exc}")
        except Exception as exc:  # a bug must not strand every other incident of the pass
            log.error("%s: %s", incident_id, "".join(traceback.format_exception(exc)))
            report.errors.append(f"{incident_id}: {type(exc).__name__}: {exc}")


def _approval_outcome(result: RunResult, action_key: str) -> str:
    for approval in result.state.get("approvals") or []:
        if approval.get("action_key") == action_key:
            return f"decided: {approval.get('decision')} by {approval.get('approver')}"
    refused = [
        t.get("note", "")
        for t in result.state.get("timeline") or []
        if t.get("phase") == "answer_refused"
    ]
    return f"refused: {refused[-1] if refused else 'the answer was not accepted'}"
