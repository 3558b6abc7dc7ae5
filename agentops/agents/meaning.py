"""What a pipeline note or deployment description says, read for meaning.

A note is cut into clauses; each clause is compared, with the shipped MiniLM embeddings,
with descriptions of "an upstream source changed what it sends" (CONTRACT.md's
upstream_data_change) and of an ordinary day ("nothing about the data changed"). Two
grammatical facts then override the similarity, because embeddings do not see them:
negation ("unchanged", "no field changes", "not affected") turns a change into its denial,
and the future ("will be delivered", "from 2027-01-15", "next quarter") turns it into an
announcement, which is not a change today. No word here names a case or a feature.

The reading only corroborates structure (a run whose named features drift, schema errors):
it is never a reason on its own. Without the embeddings model it reads every clause as
silent, so the analyzers then decide from structure alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

from agentops.clock import parse_instant
from agentops.errors import AgentOpsError

K = TypeVar("K")

# CONTRACT.md's upstream_data_change, said a few ways: what a note claims when a source changed.
CHANGE_DESCRIPTIONS = (
    "an upstream data source changed the format of the data it sends",
    "an upstream source changed the meaning or semantics of a field",
    "values of a field are now delivered in a different unit or scale",
    "a field is now encoded differently than before",
    "codes or category values were renamed or remapped",
    "the provider moved to a new version of its API or file specification",
    "the values are now computed or transformed differently",
    "a new coding scheme replaces the old one",
)
# An ordinary day: what a note says when nothing about the data changed.
STEADY_DESCRIPTIONS = (
    "a routine run; nothing about the data changed",
    "the job ran as usual and loaded the regular snapshot",
    "the schema and fields are the same as before",
    "only documentation or tests were updated",
    "a retry of an earlier run",
    "late files were reprocessed",
    "the release went out on schedule",
)
# A clause must lean this much further towards "changed" than towards "ordinary" (mean
# similarity to each set) to count as claiming a change: on short texts MiniLM's similarities
# differ by a few hundredths between unrelated pairs, so anything closer is read as silent.
# Measured on generic notes written for the purpose: ordinary notes stayed under 0.09.
CLAIM_MARGIN = 0.09
# Two-word fragments ("provider notice") are too short for a similarity to mean anything.
CLAIM_MIN_WORDS = 3

# Grammar, not vocabulary of any case: words that deny the clause they sit in, and words
# that put it in the future.
_NEGATION = re.compile(
    r"\b(no|not|never|none|nothing|neither|nor|without|unchanged|unaltered|unmodified|"
    r"unaffected|untouched|same|identical|as usual|as before|still)\b|n't\b",
    re.I,
)
_FUTURE = re.compile(
    r"\b(will|shall|going to|is to be|are to be|planned|plans to|scheduled for|upcoming|"
    r"announce[sd]?|next (week|month|quarter|year|release))\b",
    re.I,
)
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
# A contrast ("in cents, not dollars", "rather than monthly") names the old value of a
# change; it is not a denial, so it is set aside before looking for negation.
_CONTRAST = re.compile(r"(,\s*not\b|\brather than\b|\binstead of\b)[^,;]*$", re.I)
# "no longer", "not any more": a negation that says something stopped, which is a change.
_CESSATION = re.compile(r"\b(no longer|not any ?more|any ?more)\b", re.I)
# Clause boundaries: semicolons, sentence ends (a full stop not inside a number or version),
# colons, and "but".
_CLAUSES = re.compile(r";|:\s|\.(?=\s|$)|\bbut\b", re.I)


@dataclass(frozen=True)
class Clause:
    text: str
    lean: float  # similarity to "changed" minus similarity to "ordinary"
    negated: bool
    future: bool

    @property
    def claims_change(self) -> bool:
        return (
            self.lean >= CLAIM_MARGIN
            and len(self.text.split()) >= CLAIM_MIN_WORDS
            and not self.negated
            and not self.future
        )

    @property
    def denies_change(self) -> bool:
        """Says, in so many words, that nothing changed now (or that a change is still to come)."""
        return self.negated or self.future


@dataclass(frozen=True)
class Reading:
    """The note's clauses, read. `change` > 0: it says something changed now; < 0: it says
    nothing changed or only announces a change; 0: it says neither."""

    clauses: tuple[Clause, ...] = ()

    @property
    def change(self) -> float:
        claims = [c.lean for c in self.clauses if c.claims_change]
        if claims:
            return round(min(1.0, max(claims) / (2 * CLAIM_MARGIN)), 3)
        if any(c.denies_change for c in self.clauses):
            return -1.0
        return 0.0

    def change_about(self, name: str) -> float:
        """What the note says about `name` (a feature): its own clauses decide when they
        claim or deny a change; a clause that only names it ("V14 is derived from it") takes
        the note's claim, never its denial of something else ("field name unchanged")."""
        pattern = name_pattern(name)
        own = Reading(tuple(c for c in self.clauses if pattern.search(c.text))).change
        return own if own != 0 else max(0.0, self.change)

    def describe(self) -> str:
        if self.change > 0:
            claim = max((c for c in self.clauses if c.claims_change), key=lambda c: c.lean)
            return f"the notes describe a change now ({claim.text!r})"
        if self.change < 0:
            deny = next(c for c in self.clauses if c.denies_change)
            word = "announce a later change" if deny.future else "say nothing changed"
            return f"the notes {word} ({deny.text!r})"
        return "the notes say nothing about a change"


def name_pattern(name: str) -> re.Pattern[str]:
    """`name` as a whole word, case-insensitive; `snake_case` also as separate words."""
    spaced = re.escape(name).replace("_", "[_ ]")
    return re.compile(rf"(?<![\w]){spaced}(?![\w])", re.I)


def read_note(text: str, *, written_at: datetime | str | None = None) -> Reading:
    """`text` read clause by clause; dates after `written_at` are the future."""
    pieces = [p.strip(" ,.()") for p in _CLAUSES.split(text or "")]
    pieces = [p for p in pieces if len(p) >= 3]
    if not pieces:
        return Reading()
    leans = _leans(tuple(pieces))
    when = parse_instant(written_at) if written_at is not None else None
    return Reading(
        tuple(
            Clause(
                text=piece,
                lean=lean,
                negated=bool(_NEGATION.search(_CESSATION.sub("", _CONTRAST.sub("", piece)))),
                future=_is_future(piece, when),
            )
            for piece, lean in zip(pieces, leans, strict=True)
        )
    )


def _is_future(clause: str, when: datetime | None) -> bool:
    if _FUTURE.search(clause):
        return True
    if when is None:
        return False
    for found in _DATE.findall(clause):
        try:
            if parse_instant(found).date() > when.date():
                return True
        except AgentOpsError:
            continue
    return False


@lru_cache(maxsize=4096)
def _leans(pieces: tuple[str, ...]) -> tuple[float, ...]:
    model = _model()
    if model is None:
        return tuple(0.0 for _ in pieces)
    embed, change, steady = model
    vectors = embed(list(pieces))
    # the mean over each set: one close description is often a shared word, not a meaning
    towards_change = (vectors @ change.T).mean(axis=1)
    towards_steady = (vectors @ steady.T).mean(axis=1)
    return tuple(round(float(v), 4) for v in towards_change - towards_steady)


def nearest(text: str, descriptions: Mapping[K, str]) -> K | None:
    """The key whose description `text` reads closest to; None without the model."""
    model = _model()
    if model is None or not descriptions:
        return None
    embed = model[0]
    keys = list(descriptions)
    vectors = embed([text, *(descriptions[k] for k in keys)])
    scores = vectors[1:] @ vectors[0]
    return keys[int(np.argmax(scores))]


@lru_cache(maxsize=1)
def _model() -> tuple[Any, np.ndarray, np.ndarray] | None:
    """The embedder and the two description matrices, once per process; None when the
    model cannot load (the reading is then silent, never an error)."""
    from agentops.rag.embeddings import MiniLMEmbeddings

    try:
        embeddings = MiniLMEmbeddings()
    except AgentOpsError:
        return None
    return (
        embeddings.embed,
        embeddings.embed(list(CHANGE_DESCRIPTIONS)),
        embeddings.embed(list(STEADY_DESCRIPTIONS)),
    )
