"""After remediation: `verify` checks recovery; `await_recovery` is the durable wait.

`verify` reads the monitoring tables at the run's clock: every condition that breached must
be healthy for `recovery_windows` consecutive complete windows ending after the remediation.
Recovered → the post-mortem closes the incident as resolved. Otherwise the incident is
`monitoring`, or `escalated` when a remediation failed, was rejected or skipped, or the cause
is unknown (CONTRACT.md) — and the thread pauses in `await_recovery`, holding nothing but
`interrupt()`. Each scheduler pass resumes it with its clock (`{"kind": "tick", "now": ...}`)
and `verify` looks again, so an escalated incident still resolves when it recovers. A person
may close it instead (`{"kind": "control", ...}`, identity verified like an approval).
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from agentops.detection.recovery import check_recovery
from agentops.domain import IncidentStatus, RootCauseCategory
from agentops.graph import records as r
from agentops.graph.base import NodeBase
from agentops.graph.identity import identity_of
from agentops.graph.state import Json, State
from agentops.graph.walk import GATED_FAILURES, later_clock
from agentops.store import incidents as store_incidents
from agentops.store import queries as q

CLOSING_CONTROLS = {"resolve": "resolved_by_hand", "false_positive": "false_positive"}


class VerificationNodes(NodeBase):
    def verify(self, state: State) -> Json:
        incident_id = r.incident(state).incident_id
        now = r.clock(state)
        with self.svc.state.connect() as conn:
            row = q.get_incident_row(conn, incident_id)
        assert row is not None, "the incident this thread claimed exists"
        current = q.incident_from_row(row)
        if current.status is IncidentStatus.resolved:  # closed elsewhere (a person, a fork)
            return {"recovery": {"recovered": True, "summary": "already resolved"}}
        since = row.get("remediated_at") or now
        r.progress("verify: checking recovery", incident_id=incident_id)
        thresholds = self.svc.thresholds().for_model(current.model_name)
        with self.svc.monitoring.connect() as conn:
            check = check_recovery(conn, current, since=since, now=now, thresholds=thresholds)
        summary = check.summary()
        if check.recovered:
            entry = r.timeline_entry(state, "service_restored", summary)
            self._record(state, [entry])
            return {"recovery": {"recovered": True, "summary": summary}, "timeline": [entry]}
        status = self._unrecovered_status(state, row)
        with self.svc.state.begin() as conn:
            store_incidents.set_status(conn, incident_id, status)
            store_incidents.set_incident_fields(
                conn, incident_id, waiting_for="recovery", waiting_detail=summary
            )
        store_incidents.mirror(self.svc.monitoring, self.svc.state, incident_id)
        entry = r.timeline_entry(state, "recovery_check", f"{status.value}: {summary}")
        self._record(state, [entry])
        return {
            "recovery": {"recovered": False, "summary": summary, "status": status.value},
            "waiting_for": "recovery",
            "timeline": [entry],
        }

    def _unrecovered_status(self, state: State, row: dict[str, Any]) -> IncidentStatus:
        """escalated when a person owns it (CONTRACT.md), else monitoring."""
        if row.get("status") == IncidentStatus.escalated.value:
            return IncidentStatus.escalated
        withdrawn = {a.action_key for a in r.approvals(state) if a.decision == "withdrawn"}
        gated_failed = any(
            res.action.requires_approval
            and res.status in GATED_FAILURES
            and res.idempotency_key not in withdrawn
            for res in r.results(state)
        )
        diagnosis = r.diagnosis(state)
        unknown = diagnosis is not None and diagnosis.category is RootCauseCategory.unknown
        return IncidentStatus.escalated if gated_failed or unknown else IncidentStatus.monitoring

    def await_recovery(self, state: State, config: RunnableConfig) -> Json:
        incident = r.incident(state)
        recovery = state.get("recovery") or {}
        answer = interrupt(
            {
                "kind": "recovery_check",
                "incident_id": incident.incident_id,
                "model_name": incident.model_name,
                "waiting_for": "recovery",
                "detail": recovery.get("summary", ""),
                "resume_with": {"kind": "tick", "now": "ISO-8601 clock of the next check"},
            }
        )
        moved = later_clock(state, answer)
        kind = answer.get("kind") if isinstance(answer, dict) else None
        if kind != "control":
            return {**moved, "closing": None}
        control = str(answer.get("control", ""))
        identity = identity_of(config, trust_local=self.svc.trust_local_identity)
        if control not in CLOSING_CONTROLS or identity is None:
            why = (
                f"unknown control {control!r}"
                if control not in CLOSING_CONTROLS
                else "a control needs a verified identity"
            )
            entry = r.timeline_entry(state, "answer_refused", why)
            self._record(state, [entry])
            return {**moved, "closing": None, "timeline": [entry]}
        reason = str(answer.get("reason") or "").strip() or "no reason given"
        note = f"{identity.name} ({identity.via}): {reason}"
        entry = r.timeline_entry(state, CLOSING_CONTROLS[control], note)
        self._record(state, [entry])
        return {
            **moved,
            "closing": {"how": control, "by": identity.name, "via": identity.via, "reason": reason},
            "timeline": [entry],
        }
