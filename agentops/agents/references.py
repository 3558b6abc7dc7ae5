"""What the team already knows, as evidence: runbook passages and similar past incidents.

Triage consults the runbooks (RAG) and the incident history. The graph searches them (it owns
the indexes) and hands the hits to the analyzers as evidence of kind `runbook` or `incident`:

    query = symptom_query(incident, evidence)
    evidence = with_references(
        evidence,
        runbook_hits=index.search(query, k=3),
        incident_hits=similar_incidents(engine, settings, query, 3, exclude=(incident_id,)),
    )

`gather_evidence` already adds the model's own past incidents from INCIDENTS (no index
needed), so offline runs cite history too. None of it changes a diagnosis: a reference is
cited when it is about the category the structure chose.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agentops.agents.meaning import nearest
from agentops.domain import Evidence, Incident, RootCauseCategory

C = RootCauseCategory
# A runbook passage is cited when the search scored it at least this (cosine similarity), the
# line under which the post-mortem proposes a runbook addition.
RUNBOOK_RELEVANT = 0.5
MAX_TEXT = 600

# CONTRACT.md's signatures in a sentence each: a passage is about the category whose
# description it reads closest to (meaning.py's embeddings).
DESCRIPTIONS: dict[RootCauseCategory, str] = {
    C.bad_deployment: "a new model version was deployed and made performance or errors worse; "
    "roll back to the previous version",
    C.upstream_data_change: "an upstream data source changed format or semantics and the "
    "features it feeds drift; fix the pipeline and retrain",
    C.pipeline_failure: "a data pipeline run failed or was partial and features are null or "
    "stale; data engineering re-runs it",
    C.concept_drift: "the relation between inputs and labels changed and performance decays "
    "with broad drift; retrain on recent data",
    C.infrastructure: "latency, errors or downtime at the serving layer; scale the infrastructure",
    C.adversarial: "adversarial traffic: recall collapses while precision holds and volume "
    "jumps; security investigates",
    C.benign: "a minor P3 signal that needs only a notice",
    C.unknown: "the cause is unclear; escalate to a person",
}


def _field(hit: Any, name: str) -> Any:
    return hit.get(name) if isinstance(hit, dict) else getattr(hit, name, None)


def runbook_evidence(hits: Iterable[Any]) -> list[Evidence]:
    """Runbook search hits (`RunbookHit` or dicts with runbook, section, text, score)."""
    out = []
    for hit in hits:
        runbook, section = str(_field(hit, "runbook")), str(_field(hit, "section") or "")
        text = " ".join(str(_field(hit, "text") or "").split())
        score = float(_field(hit, "score") or 0.0)
        out.append(
            Evidence(
                id=f"runbook:{runbook}#{section}",
                kind="runbook",
                summary=f"runbook {runbook} § {section} (match {score:.2f}): {text[:200]}",
                data={
                    "runbook": runbook,
                    "section": section,
                    "score": score,
                    "text": text[:MAX_TEXT],
                },
            )
        )
    return out


def incident_evidence(hits: Iterable[Any]) -> list[Evidence]:
    """Similar-incident hits (`IncidentHit` or dicts with incident_id, root_cause_category,
    root_cause, resolution, score)."""
    out = []
    for hit in hits:
        incident_id = str(_field(hit, "incident_id"))
        category = _field(hit, "root_cause_category")
        if not category:
            continue
        out.append(
            Evidence(
                id=f"incident:{incident_id}",
                kind="incident",
                summary=(
                    f"similar past incident {incident_id}: {category} - "
                    f"{_field(hit, 'root_cause') or '?'}"
                ),
                data={
                    "incident_id": incident_id,
                    "category": str(category),
                    "root_cause": str(_field(hit, "root_cause") or ""),
                    "resolution": str(_field(hit, "resolution") or ""),
                    "score": float(_field(hit, "score") or 0.0),
                    "source": "search",
                },
            )
        )
    return out


def with_references(
    evidence: list[Evidence],
    *,
    runbook_hits: Iterable[Any] = (),
    incident_hits: Iterable[Any] = (),
) -> list[Evidence]:
    """`evidence` plus the hits as evidence, each id once (the model's own past incidents
    that `gather_evidence` already read are not added twice)."""
    seen = {e.id for e in evidence}
    out = list(evidence)
    for item in [*runbook_evidence(runbook_hits), *incident_evidence(incident_hits)]:
        if item.id not in seen:
            seen.add(item.id)
            out.append(item)
    return out


def symptom_query(incident: Incident, evidence: list[Evidence]) -> str:
    """The incident's symptoms in words, for runbook and incident search: alert types and
    the features and metrics that moved, never a category (that would beg the question)."""
    alerts = ", ".join(t.value.replace("_", " ") for t in incident.alert_types)
    drifting = [
        str(e.data["feature"])
        for e in evidence
        if e.kind == "drift" and "psi" in e.data and e.data.get("feature")
    ]
    nulls = [
        str(e.data["feature"])
        for e in evidence
        if e.kind == "data_quality" and e.data.get("feature")
    ]
    parts = [f"{incident.severity.value} {alerts} on {incident.model_name}"]
    if drifting:
        parts.append(f"drift in {', '.join(drifting[:5])}")
    if nulls:
        parts.append(f"data quality problems in {', '.join(nulls[:5])}")
    return "; ".join(parts)


def relevant_references(category: RootCauseCategory, evidence: list[Evidence]) -> list[Evidence]:
    """The past incidents of the same category (those sharing alert types first, as given)
    and the runbook passages about it that the search scored high enough."""
    past = [e for e in evidence if e.kind == "incident" and e.data.get("category") == category]
    runbooks = [
        e
        for e in evidence
        if e.kind == "runbook"
        and float(e.data.get("score") or 0.0) >= RUNBOOK_RELEVANT
        and _about(e, category)
    ]
    return [*past[:2], *runbooks[:2]]


def _about(item: Evidence, category: RootCauseCategory) -> bool:
    text = f"{item.data.get('runbook', '')} {item.data.get('section', '')}: {item.data.get('text', '')}"
    return nearest(text[:MAX_TEXT], DESCRIPTIONS) == category
