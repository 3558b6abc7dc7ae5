"""The incident graph's state: what a caller sends, what the nodes share, what comes out.

State holds plain JSON (domain records dumped with `model_dump(mode="json")`): the
checkpointer stores it without a class allow-list, the LangGraph server and Studio show it
as is, and nodes validate it back into domain records at the edge (`records.py`).

Append-only fields use reducers that are idempotent: a node re-run (a resume after a crash,
a re-submitted thread) returns the same entries again, and the reducers keep one of each —
actions by their ledger key, timeline entries by phase and note, one decision per action.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import Field
from typing_extensions import TypedDict

Json = dict[str, Any]


def merge_actions(left: list[Json] | None, right: list[Json] | None) -> list[Json]:
    """Action results by ledger key: a repeat replaces the earlier entry in place."""
    out = list(left or [])
    index = {r.get("idempotency_key"): i for i, r in enumerate(out)}
    for result in right or []:
        key = result.get("idempotency_key")
        if key in index:
            out[index[key]] = result
        else:
            index[key] = len(out)
            out.append(result)
    return out


def merge_timeline(left: list[Json] | None, right: list[Json] | None) -> list[Json]:
    """Timeline entries, one per (phase, note): a re-run node adds nothing new."""
    out = list(left or [])
    seen = {(t.get("phase"), t.get("note", "")) for t in out}
    for entry in right or []:
        mark = (entry.get("phase"), entry.get("note", ""))
        if mark not in seen:
            seen.add(mark)
            out.append(entry)
    return out


def first_decision(left: list[Json] | None, right: list[Json] | None) -> list[Json]:
    """One decision per action: the first valid one stands; later ones are ignored."""
    out = list(left or [])
    decided = {a.get("action_key") for a in out}
    for approval in right or []:
        if approval.get("action_key") not in decided:
            decided.add(approval.get("action_key"))
            out.append(approval)
    return out


def unique(left: list[str] | None, right: list[str] | None) -> list[str]:
    out = list(left or [])
    for item in right or []:
        if item not in out:
            out.append(item)
    return out


def usage_by_phase(left: Json | None, right: Json | None) -> Json:
    """LLM usage per phase (triage, investigate, plan): a re-run phase replaces its own."""
    return {**(left or {}), **(right or {})}


class InputState(TypedDict, total=False):
    """What a caller sends; every key optional. Unknown keys are refused (by the server's
    auth hook and `validate_input`), so a misspelt key never widens a run to every model."""

    model_name: Annotated[
        str | None, Field(description="detect for this model only (default: every model)")
    ]
    now: Annotated[
        str | None,
        Field(
            description="the clock, ISO-8601 UTC (default: the wall clock, read once)",
            json_schema_extra={"format": "date-time"},
        ),
    ]
    incident_id: Annotated[
        str | None,
        Field(description="handle this incident (INC-YYYY-MMDD-N) instead of scanning"),
    ]


INPUT_KEYS = frozenset(InputState.__annotations__)


def validate_input(raw: Any) -> None:
    """DataError (a ValueError, so Studio and the SDK show it) for input a run cannot take:
    not a mapping, an unknown key, a `now` that is not an instant, a blank model name."""
    from agentops.clock import parse_instant
    from agentops.errors import DataError

    if raw is None:
        return
    if not isinstance(raw, dict):
        raise DataError(f"input: expected an object with {sorted(INPUT_KEYS)}, got {raw!r}")
    unknown = sorted(set(raw) - INPUT_KEYS)
    if unknown:
        raise DataError(f"input: unknown key(s) {unknown}; expected {sorted(INPUT_KEYS)}")
    if raw.get("now") is not None:
        parse_instant(raw["now"], what="now")
    for key in ("model_name", "incident_id"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise DataError(f"input: {key} must be a non-empty string, got {value!r}")


class OutputState(TypedDict, total=False):
    """What a caller gets back (and what `agentops eval` scores)."""

    incident: Json | None
    diagnosis: Json | None
    action_plan: Json | None
    actions_taken: Annotated[list[Json], merge_actions]
    escalated_to: list[str]
    postmortem_path: str | None
    summary: str
    llm_usage: Json
    waiting_for: str | None  # approval | recovery | None (ended)


class State(InputState, OutputState, total=False):
    """Everything the nodes share."""

    clock: str  # the run's `now`, resolved by `detect`, moved on by each resume that says so
    started_wall: str  # wall time when the run started: timeline stamps add elapsed time
    alerts: list[Json]
    evidence: list[Json]  # gathered once by triage from the store; tools add their own
    runbook_hits: list[Json]
    diagnosis_digest: str  # what investigate wrote: a differing diagnosis was edited
    diagnosis_written: Json | None  # investigate's diagnosis as written (graph/edits.py)
    replan: bool  # an accepted edit changed the category: the plan is made again
    cursor: int  # the next action of the plan to walk
    pending_action: str | None  # ledger key of the action awaiting a human
    recovery: Json  # the last recovery check
    remediation_done: bool  # the plan's walk finished; recovery counts windows after it
    closing: Json | None  # a person closed it: {how, by, via, reason}
    resubmitted: bool  # detect found this thread already handling an incident
    # append-only, idempotent
    approvals: Annotated[list[Json], first_decision]
    timeline: Annotated[list[Json], merge_timeline]
    notes: Annotated[list[str], unique]
    messages: Annotated[list[AnyMessage], add_messages]
    usage: Annotated[Json, usage_by_phase]
