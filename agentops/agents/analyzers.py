"""Deterministic root-cause analysis: the offline mode and the fallback of the agents.

`rank_hypotheses` scores every category of CONTRACT.md against its signature
(signatures.py); `diagnose_by_rules` answers with the best one only when it stands clear of
the rest, and otherwise with `unknown`, which pages a person (the ML team lead) and changes
no model: an honest "I don't know" beats a guess.

Confidence is not a constant per rule. It is the best hypothesis's score (how much of its
signature the evidence shows, and how strongly) less half the runner-up's (how much a rival
explanation fits as well), times the share of its signature the evidence could check at
all. Below one half, or when less than 70 % of the signature could be checked, the answer is
`unknown`, whose confidence is the complement. Past incidents and runbook passages never change the answer; those that match
it are cited.
"""

from __future__ import annotations

from agentops.agents.hypothesis import Hypothesis
from agentops.agents.policy import ESCALATIONS, RECOMMENDED
from agentops.agents.references import relevant_references
from agentops.agents.signals import Signals
from agentops.agents.signatures import SCORERS
from agentops.domain import Diagnosis, Evidence, Incident, RootCauseCategory

C = RootCauseCategory
# The share of the runner-up's score a rival explanation takes off the best one's.
RIVAL_WEIGHT = 0.5
# Below this, no category stands clear enough to act on: a person decides.
DECIDE_AT = 0.5
# A category is named only when the evidence could check at least this share of its
# signature: a good fit on a few clauses, with the rest unknown, is insufficient evidence.
COVERAGE_AT = 0.7
CONFIDENCE_RANGE = (0.05, 0.95)


def rank_hypotheses(incident: Incident, evidence: list[Evidence]) -> list[Hypothesis]:
    """Every category whose signature the evidence supports, best first; when none is
    supported at all, a single `unknown` with score 0 (never empty)."""
    signals = Signals.read(incident, evidence)
    found = [h for h in (scorer(signals).build() for scorer in SCORERS) if h is not None]
    if not found:
        types = ", ".join(sorted(signals.alert_types)) or "none"
        return [
            Hypothesis(
                category=C.unknown,
                score=0.0,
                root_cause=(
                    f"Insufficient evidence for {incident.model_name}: no category's signature "
                    f"shows in the data (alerts: {types}); a person decides"
                ),
                reasons=["no signature's defining clause holds"],
                evidence_ids=sorted(i for i in signals.ids if i.startswith("alert:")),
            )
        ]
    order = list(C)
    return sorted(found, key=lambda h: (-h.score, order.index(h.category)))


def standing(ranked: list[Hypothesis]) -> float:
    """How clearly the best hypothesis stands: its score less a share of the runner-up's."""
    best = ranked[0].score
    rival = ranked[1].score if len(ranked) > 1 else 0.0
    return round(best - RIVAL_WEIGHT * rival, 3)


def diagnose_by_rules(incident: Incident, evidence: list[Evidence], note: str) -> Diagnosis:
    """The best hypothesis as a Diagnosis when it stands clear, else `unknown`."""
    ranked = rank_hypotheses(incident, evidence)
    best, clear = ranked[0], standing(ranked)
    known = {e.id for e in evidence}
    category: RootCauseCategory
    # what the evidence verifies of the best reading: how clearly it stands, times how much
    # of its signature could be checked at all
    support = clear * best.coverage
    if best.category != C.unknown and clear >= DECIDE_AT and best.coverage >= COVERAGE_AT:
        category, root_cause, confidence = best.category, best.root_cause, support
        cited = best.evidence_ids
    else:
        category, confidence = C.unknown, 1 - support
        root_cause = _undecided(incident, ranked)
        cited = [i for h in ranked[:2] for i in h.evidence_ids]
    references = relevant_references(category, evidence)
    past = [r for r in references if r.kind == "incident"]
    if past and category != C.unknown:
        root_cause += f"; as in {past[0].data['incident_id']}" + (
            f" (resolved by: {past[0].data['resolution']})"
            if past[0].data.get("resolution")
            else ""
        )
    low, high = CONFIDENCE_RANGE
    return Diagnosis(
        category=category,
        root_cause=root_cause,
        confidence=round(min(max(confidence, low), high), 2),
        evidence_ids=list(
            dict.fromkeys(i for i in [*cited, *(r.id for r in references)] if i in known)
        ),
        recommended_actions=list(RECOMMENDED[category]),
        escalate_to=list(ESCALATIONS[category]),
        diagnosed_by="rules",
        note=note,
    )


def _undecided(incident: Incident, ranked: list[Hypothesis]) -> str:
    fits = [h for h in ranked[:2] if h.category != C.unknown]
    if not fits:
        return ranked[0].root_cause
    parts = []
    for h in fits:
        against = [r for r in h.reasons if r.startswith("-")]
        parts.append(
            f"{h.category.value} fits {h.score:.0%}"
            + (f" ({'; '.join(r.split(' ', 1)[1] for r in against[:2])})" if against else "")
        )
    return (
        f"Insufficient evidence to name one cause for {incident.model_name}: "
        + ", ".join(parts)
        + f". Leading reading: {fits[0].root_cause}. A person decides (ML team lead); "
        "no model change until then"
    )
