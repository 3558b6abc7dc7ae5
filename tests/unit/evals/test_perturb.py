"""The variant generators: each changes only what it says, from the case's own structure, and
keeps the case's expectations; every variant still loads into a fresh store."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.cases import Case, load_case, read_case
from agentops.clock import parse_instant
from agentops.evals.perturb import (
    KINDS,
    OTHER_MODEL,
    TIME_SHIFT,
    reword_restructured,
    reword_synonyms,
    variants,
)
from agentops.store import create_store_engine, init_schema

CASES = Path(__file__).resolve().parents[3] / "evals" / "cases"


def case(name: str) -> Case:
    return read_case(next(CASES.glob(f"{name}_*")))


def by_kind(source: Case) -> dict[str, Case]:
    return {v.kind: v.case for v in variants(source)}


def runs(c: Case) -> list[dict]:
    return c.tables.get("pipeline_runs", [])


@pytest.mark.parametrize("name", ["003", "030", "064", "067"])
def test_every_variant_keeps_the_expectations_and_loads(name: str, tmp_path: Path) -> None:
    source = case(name)
    for kind, changed in by_kind(source).items():
        assert changed.id == f"{source.id}~{kind}"
        assert changed.expect == source.expect and changed.approvals == source.approvals
        engine = create_store_engine(f"sqlite:///{tmp_path / kind}.db")
        init_schema(engine)
        load_case(engine, changed)  # raises on a row the contract refuses
        engine.dispose()


def test_rewording_changes_the_words_and_keeps_every_name_and_number() -> None:
    note = "vendor switched Amount to integer cents; V14 now sent as text (was 2 codes)"
    for reworded in (reword_synonyms(note), reword_restructured(note)):
        assert reworded.lower() != note.lower()
        for kept in ("amount", "v14", "cents", "2 codes"):
            assert kept in reworded.lower()
    source = case("003")
    changed = by_kind(source)["reworded"]
    before = [r["notes"] for r in runs(source)]
    after = [r["notes"] for r in runs(changed)]
    assert [bool(n) for n in before] == [bool(n) for n in after]
    assert before != after
    assert [{k: v for k, v in r.items() if k != "notes"} for r in runs(source)] == [
        {k: v for k, v in r.items() if k != "notes"} for r in runs(changed)
    ]


def test_distractor_notes_sit_on_a_successful_run_of_the_models_own_pipeline() -> None:
    source = case("013")
    pipelines = {r["pipeline_name"] for r in runs(source)}
    for kind in ("note-routine", "note-documentation", "note-future", "note-unchanged"):
        added = runs(by_kind(source)[kind])[len(runs(source)) :]
        assert len(added) == 1
        (row,) = added
        assert row["status"] == "success" and row["model_name"] == "classifier_v2"
        assert row["pipeline_name"] in pipelines
        assert parse_instant(row["started_at"]) < source.now
    future = runs(by_kind(source)["note-future"])[-1]["notes"]
    assert "V4" in future  # it names the most drifting feature: the hardest distractor


def test_irrelevant_rows_concern_another_model_or_the_past() -> None:
    source = case("030")
    other = by_kind(source)["other-model"]
    added = [r for r in other.tables["model_metrics"] if r not in source.tables["model_metrics"]]
    assert added and {r["model_name"] for r in added} == {OTHER_MODEL}
    assert all(r["f1"] >= 0.9 and r["status"] == "up" for r in added)
    old = by_kind(source)["old-deployment"].tables["deployments"][-1]
    first_window = min(parse_instant(r["window_start"]) for r in source.tables["model_metrics"])
    assert parse_instant(old["deployed_at"]) < first_window
    assert old["model_version"] == "4.1.3"  # the version the first window serves


def test_time_shift_moves_every_instant_the_clock_and_later_passes_alike() -> None:
    source = case("061")
    shifted = by_kind(source)["time-shifted"]
    assert shifted.now - source.now == TIME_SHIFT
    assert [p.at - q.at for p, q in zip(shifted.later, source.later, strict=True)] == [
        TIME_SHIFT
    ] * len(source.later)
    before = source.tables["deployments"][-1]
    after = shifted.tables["deployments"][-1]
    assert parse_instant(after["deployed_at"]) - parse_instant(before["deployed_at"]) == TIME_SHIFT
    assert after["model_version"] == before["model_version"]


def test_a_generator_with_nothing_to_change_makes_no_variant() -> None:
    kinds = {v.kind for v in variants(case("001"))}  # no notes anywhere in this case
    assert "reworded" not in kinds and "restructured" not in kinds
    assert kinds <= set(KINDS)
