"""Human edits of the diagnosis are evidence, not a back door (issue 12).

Studio's "edit state" (`update_state`) can rewrite any key of a thread's state, the
diagnosis included. Before the plan is made and before an approval-required action is asked
for or run, the nodes compare the diagnosis in effect with what the investigation wrote — its
fingerprint in the state, and its category and root cause in the state store, which no state
edit reaches — and a difference is a human edit:

- it is recorded in the timeline as "diagnosis edited by <person>" (the person from the edit's
  checkpoint: the LangGraph server writes the authenticated user there);
- an edited category must pass the same evidence checks as a model's answer
  (`preconditions.check_category`). Refused, the investigation's diagnosis stays in effect and
  the refusal is kept in it (`refused`), so nothing the evidence refuses is unlocked. Accepted,
  the edit is in effect, says who made it (`diagnosed_by`), is written to the incident, and a
  plan made from another category is made again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config

from agentops.agents.preconditions import check_category
from agentops.domain import Diagnosis, Incident, TimelineEntry
from agentops.graph import records as r
from agentops.graph.services import Services
from agentops.graph.state import Json, State
from agentops.store import incidents as store_incidents
from agentops.store import queries as q

log = logging.getLogger("agentops.edits")

# where LangGraph puts the run's checkpointer in a node's config (langgraph._internal)
CHECKPOINTER_KEY = "__pregel_checkpointer"
UNKNOWN_EDITOR = "someone (the edit's checkpoint names nobody)"


def digest(diagnosis: Json | None) -> str:
    """A fingerprint of a diagnosis as a node wrote it: a different one was edited."""
    text = json.dumps(diagnosis or {}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def written(diagnosis: Diagnosis) -> Json:
    """The state keys a node sets with a diagnosis it wrote (or accepted)."""
    dumped = r.dump(diagnosis)
    return {"diagnosis": dumped, "diagnosis_digest": digest(dumped)}


@dataclass(frozen=True)
class EditReview:
    update: Json  # the state update to apply: the diagnosis in effect, timeline, notes
    accepted: bool
    category_changed: bool


def review_edit(svc: Services, state: State) -> EditReview | None:
    """None when the diagnosis in effect is the one the investigation wrote (or a reviewed
    edit accepted); otherwise the review of the edit, recorded in the timeline."""
    raw = state.get("diagnosis")
    if raw is None:
        return None
    incident = r.incident(state)
    with svc.state.connect() as conn:
        row = q.get_incident_row(conn, incident.incident_id) or {}
    stored_category = row.get("root_cause_category")
    stored_cause = row.get("root_cause")
    in_effect = r.diagnosis(state)
    assert in_effect is not None
    same_print = digest(raw) == state.get("diagnosis_digest")
    same_store = (stored_category in (None, in_effect.category.value)) and (
        stored_cause in (None, in_effect.root_cause)
    )
    if same_print and same_store:
        return None
    who = editor()
    original = _original(state, in_effect, stored_category, stored_cause)
    changed = original.category != in_effect.category
    refusal = check_category(incident, r.evidence(state), in_effect.category) if changed else None
    before = f"{original.category.value}: {original.root_cause}"
    after = f"{in_effect.category.value}: {in_effect.root_cause}"
    if refusal is None:
        kept = in_effect.model_copy(
            update={
                "diagnosed_by": f"{original.diagnosed_by}, edited by {who}",
                "note": _joined(in_effect.note, f"edited by {who} (was {before})"),
            }
        )
        note = f"diagnosis edited by {who}: {before} → {after}; the evidence fits it"
        _store(svc, incident, kept)
    else:
        kept = original.model_copy(
            update={
                "refused": [*original.refused, f"{who}'s edit to {after}: {refusal}"],
                "note": _joined(original.note, f"an edit by {who} was refused: {refusal}"),
            }
        )
        note = f"diagnosis edited by {who}: {before} → {after}; refused: {refusal}"
    entry = r.timeline_entry(state, "diagnosis_edited", note)
    with svc.state.begin() as conn:
        store_incidents.add_timeline(
            conn, incident.incident_id, [TimelineEntry.model_validate(entry)]
        )
    log.warning("%s: %s", incident.incident_id, note)
    update = {**written(kept), "timeline": [entry], "notes": [note]}
    return EditReview(update, accepted=refusal is None, category_changed=changed)


def editor(config: RunnableConfig | None = None) -> str:
    """Who made the newest state edit of this thread: the `user_id` the LangGraph server
    stamps on an edit's checkpoint (the authenticated user), or `edited_by` a library caller
    put in the edit's metadata. `config`: the running node's (default: the current one)."""
    if config is None:
        try:
            config = get_config()
        except RuntimeError:  # not inside a run
            return UNKNOWN_EDITOR
    configurable: dict[str, Any] = dict(config.get("configurable") or {})
    saver = configurable.get(CHECKPOINTER_KEY)
    thread_id = configurable.get("thread_id")
    if saver is None or thread_id is None:
        return UNKNOWN_EDITOR
    try:
        history = saver.list({"configurable": {"thread_id": thread_id}}, limit=25)
        for item in history:
            meta = item.metadata or {}
            if meta.get("source") == "update":
                name = meta.get("user_id") or meta.get("edited_by")
                return str(name) if name else UNKNOWN_EDITOR
    except (NotImplementedError, RuntimeError) as exc:  # an async-only saver
        log.info("edit history unavailable: %s", exc)
    return UNKNOWN_EDITOR


def _original(
    state: State, in_effect: Diagnosis, category: str | None, cause: str | None
) -> Diagnosis:
    """What the investigation wrote: its copy in the state when the state store agrees
    with it (an edit may rewrite the copy too, never the store)."""
    copy = state.get("diagnosis_written")
    if copy:
        kept = Diagnosis.model_validate(copy)
        if category in (None, kept.category.value) and cause in (None, kept.root_cause):
            return kept
    update: dict[str, Any] = {}
    if category:
        update["category"] = category
    if cause:
        update["root_cause"] = cause
    return Diagnosis.model_validate({**in_effect.model_dump(), **update})


def _store(svc: Services, incident: Incident, diagnosis: Diagnosis) -> None:
    with svc.state.begin() as conn:
        store_incidents.set_incident_fields(
            conn,
            incident.incident_id,
            root_cause=diagnosis.root_cause,
            root_cause_category=diagnosis.category.value,
        )
    store_incidents.mirror(svc.monitoring, svc.state, incident.incident_id)


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
