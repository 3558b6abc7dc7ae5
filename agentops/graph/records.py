"""State holds JSON; nodes work with domain records. These convert at the edge."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from langgraph.config import get_stream_writer
from pydantic import BaseModel

from agentops.clock import iso, parse_instant, utcnow
from agentops.domain import (
    ActionPlan,
    ActionResult,
    Approval,
    Diagnosis,
    Evidence,
    Incident,
    LLMUsage,
    TimelineEntry,
)
from agentops.graph.state import Json, State


def dump(record: BaseModel) -> Json:
    return record.model_dump(mode="json")


def clock(state: State) -> datetime:
    return parse_instant(state["clock"], what="clock")


def stamp(state: State) -> datetime:
    """When a phase happens: the run's clock plus the wall time elapsed since it started.

    Decisions use the fixed clock (exact evals and replays); the timeline shows real
    durations, including the hours a human took to approve.
    """
    started = parse_instant(state["started_wall"], what="started_wall")
    return clock(state) + max(utcnow() - started, timedelta(0))


def timeline_entry(state: State, phase: str, note: str = "") -> Json:
    return dump(TimelineEntry.model_validate({"phase": phase, "at": stamp(state), "note": note}))


def incident(state: State) -> Incident:
    return Incident.model_validate(state["incident"])


def diagnosis(state: State) -> Diagnosis | None:
    raw = state.get("diagnosis")
    return Diagnosis.model_validate(raw) if raw else None


def evidence(state: State) -> list[Evidence]:
    return [Evidence.model_validate(e) for e in state.get("evidence") or []]


def plan(state: State) -> ActionPlan:
    return ActionPlan.model_validate(state.get("action_plan") or {})


def results(state: State) -> list[ActionResult]:
    return [ActionResult.model_validate(r) for r in state.get("actions_taken") or []]


def approvals(state: State) -> list[Approval]:
    return [Approval.model_validate(a) for a in state.get("approvals") or []]


def timeline(state: State) -> list[TimelineEntry]:
    return [TimelineEntry.model_validate(t) for t in state.get("timeline") or []]


def usage(state: State) -> LLMUsage:
    return LLMUsage.model_validate(state.get("llm_usage") or {})


def usage_update(state: State, phase: str, spent: LLMUsage) -> Json:
    """The state update recording one phase's LLM usage, and the run's new total (a re-run
    phase replaces its own figures instead of adding them again)."""
    by_phase = {**(state.get("usage") or {}), phase: spent.model_dump()}
    total = sum((LLMUsage.model_validate(u) for u in by_phase.values()), LLMUsage())
    return {"usage": {phase: spent.model_dump()}, "llm_usage": total.model_dump()}


def decision_for(state: State, key: str) -> Approval | None:
    """The decision on the action with ledger key `key` (the first valid one stands)."""
    found = [a for a in approvals(state) if a.action_key == key]
    return found[0] if found else None


def incident_summary(value: Incident) -> dict[str, Any]:
    return {
        "incident_id": value.incident_id,
        "model_name": value.model_name,
        "severity": value.severity.value,
        "alert_types": [t.value for t in value.alert_types],
        "status": value.status.value,
        "root_cause_category": value.root_cause_category.value
        if value.root_cause_category
        else None,
        "root_cause": value.root_cause,
        "opened_at": iso(value.opened_at),
    }


# the local runner's listener (runner.advance sets it for the run it streams)
progress_hook: ContextVar[Callable[[dict[str, Any]], None] | None] = ContextVar(
    "agentops_progress_hook", default=None
)


def progress(step: str, **data: Any) -> None:
    """A progress event from inside a node: on LangGraph's `custom` stream (Studio and SDK
    callers streaming with stream_mode="custom" see what a long node is doing) and to the
    local runner's listener; anyone else sees nothing."""
    event = {"progress": step, **data}
    hook = progress_hook.get()
    if hook is not None:
        hook(event)
    try:
        write = get_stream_writer()
    except (RuntimeError, KeyError):  # not inside a run
        return
    write(event)
