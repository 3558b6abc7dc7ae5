"""Notes read for meaning: a change now, a denial, an announcement, or silence.

The sentences are written for these tests (none comes from an eval case), so a reading that
passes here is not tuned to the cases' words.
"""

from __future__ import annotations

import pytest

from agentops.agents import meaning
from agentops.agents.meaning import read_note

WRITTEN = "2026-12-01T08:00:00Z"


@pytest.mark.parametrize(
    "note",
    [
        "country codes switched from ISO-2 to ISO-3",
        "the supplier now delivers the risk code as text labels rather than numbers",
        "a new device taxonomy replaces the old one",
    ],
)
def test_a_change_described_in_other_words_reads_as_a_change(note: str) -> None:
    assert read_note(note, written_at=WRITTEN).change > 0


@pytest.mark.parametrize(
    "note",
    [
        "schema unchanged",
        "nightly export finished; no field changes",
        "device_type not affected by the migration",
        "documentation refreshed; layout identical to last week",
    ],
)
def test_a_denied_change_reads_as_no_change(note: str) -> None:
    assert read_note(note, written_at=WRITTEN).change < 0


@pytest.mark.parametrize(
    "note",
    [
        "the vendor will send prices in cents next quarter",
        "from 2027-03-01 the region field moves to ISO codes",
        "a new coding scheme is planned for the spring release",
    ],
)
def test_an_announced_change_is_not_a_change_today(note: str) -> None:
    reading = read_note(note, written_at=WRITTEN)
    assert reading.change < 0
    assert "later change" in reading.describe()


def test_a_past_date_is_not_the_future() -> None:
    reading = read_note("from 2026-11-01 the region field uses ISO codes", written_at=WRITTEN)
    assert not any(clause.future for clause in reading.clauses)


def test_a_contrast_or_a_cessation_describes_a_change_and_is_not_a_denial() -> None:
    reading = read_note("prices now arrive in cents, not dollars", written_at=WRITTEN)
    assert not reading.clauses[0].negated
    stopped = read_note("the vendor no longer sends amounts in dollars", written_at=WRITTEN)
    assert not stopped.clauses[0].negated


def test_what_a_note_says_about_a_feature_is_read_from_the_clauses_naming_it() -> None:
    note = "provider notice: the price_band field will move to a new layout; v2 tokens remapped"
    reading = read_note(note, written_at=WRITTEN)
    assert reading.change_about("price_band") < 0  # announced for later
    denial_elsewhere = read_note("device_type now arrives hashed; file name unchanged")
    # a clause that only names the feature takes the note's claim, not a denial elsewhere
    assert denial_elsewhere.change_about("device_type") >= 0


def test_routine_notes_without_negation_are_silent_or_denials_never_claims() -> None:
    for note in ("weekly compaction of the events table", "retry of the 03:00 run"):
        assert read_note(note, written_at=WRITTEN).change <= 0


def test_without_the_embeddings_model_a_note_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meaning, "_model", lambda: None)
    meaning._leans.cache_clear()
    try:
        assert read_note("country codes switched from ISO-2 to ISO-3").change == 0
        # grammar still reads: a denial needs no model
        assert read_note("schema unchanged").change < 0
    finally:
        meaning._leans.cache_clear()
