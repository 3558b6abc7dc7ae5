"""Scoring one case: each expectation the case gives, checked against the graph's final
state (OutputState of DEVELOPERS.md). Keys the case omits are not scored.

The state may hold domain records (an in-process run) or their JSON form (a run through
the LangGraph server), so every read goes through `_get`.
"""

from __future__ import annotations

from typing import Any

from agentops.cases import Case
from agentops.domain import APPROVAL_REQUIRED, ActionType

# Check names, in report order; each maps to one key of a case's `expect:` block.
CHECKS: tuple[str, ...] = (
    "incident",
    "severity",
    "alert_types",
    "category",
    "mentions",
    "actions_include",
    "actions_exclude",
    "executed",
    "escalation",
    "status",
)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _word(value: Any) -> str:
    """An enum or its string value, as the plain word."""
    return str(getattr(value, "value", value))


def root_cause_text(state: dict[str, Any]) -> str:
    text = _get(state.get("diagnosis"), "root_cause") or _get(state.get("incident"), "root_cause")
    return str(text or "")


def root_cause_category(state: dict[str, Any]) -> str | None:
    category = _get(state.get("diagnosis"), "category") or _get(
        state.get("incident"), "root_cause_category"
    )
    return _word(category) if category else None


def planned_types(state: dict[str, Any]) -> set[str]:
    return {_word(_get(a, "type")) for a in _get(state.get("action_plan"), "actions", []) or []}


def executed_types(state: dict[str, Any]) -> set[str]:
    """Approval-required actions approved and handed to their executor: over the whole run
    from the ledger (`_executed`, a retrain queued behind an upstream fix counts), else the
    thread's own succeeded results."""
    if "_executed" in state:
        return set(state["_executed"])
    gated = {t.value for t in APPROVAL_REQUIRED}
    out = set()
    for result in state.get("actions_taken") or []:
        kind = _word(_get(_get(result, "action"), "type"))
        if kind in gated and _get(result, "status") == "succeeded":
            out.add(kind)
    return out


def escalated_targets(state: dict[str, Any]) -> set[str]:
    """Targets of escalations that went out over the whole run: the ledger's (`_escalated`,
    which includes the SLA sweep's), plus the thread's succeeded `escalate` actions and its
    own record (`escalated_to`)."""
    out = {_word(t) for t in state.get("escalated_to") or []}
    out |= set(state.get("_escalated") or [])
    for result in state.get("actions_taken") or []:
        action = _get(result, "action")
        if (
            _word(_get(action, "type")) == ActionType.escalate.value
            and _get(result, "status") == "succeeded"
        ):
            out.add(str(_get(action, "target")))
    return out


def score(case: Case, final_state: dict[str, Any]) -> dict[str, bool]:
    """One bool per expectation the case gives, named as in `CHECKS`."""
    expect = case.expect
    incident = final_state.get("incident")
    checks: dict[str, bool] = {}
    if expect.incident is not None:
        checks["incident"] = (incident is not None) == expect.incident
    if expect.severity is not None:
        checks["severity"] = _word(_get(incident, "severity")) == expect.severity.value
    if expect.alert_types is not None:
        got = {_word(t) for t in _get(incident, "alert_types", []) or []}
        checks["alert_types"] = got == {t.value for t in expect.alert_types}
    if expect.root_cause is not None:
        if expect.root_cause.category is not None:
            checks["category"] = root_cause_category(final_state) == expect.root_cause.category
        if expect.root_cause.mentions:
            text = root_cause_text(final_state).lower()
            checks["mentions"] = all(m.lower() in text for m in expect.root_cause.mentions)
    if expect.actions is not None:
        planned = planned_types(final_state)
        if expect.actions.include:
            checks["actions_include"] = {a.value for a in expect.actions.include} <= planned
        if expect.actions.exclude:
            checks["actions_exclude"] = not ({a.value for a in expect.actions.exclude} & planned)
    if expect.executed is not None:
        checks["executed"] = executed_types(final_state) == {a.value for a in expect.executed}
    if expect.escalate_to is not None:
        wanted = {t.value for t in expect.escalate_to}
        checks["escalation"] = escalated_targets(final_state) == wanted
    if expect.status is not None:
        status = final_state.get("_status") or _get(incident, "status")
        checks["status"] = _word(status) in {s.value for s in expect.status}
    return checks
