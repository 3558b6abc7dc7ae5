"""Every eval case and every generated variant of it (notes reworded, harmless notes and rows
added, the whole case moved in time): the offline analyzers give the variant the same
category and the same baseline actions as the case itself.

Fast on purpose: the analyzers are called directly (gather_evidence, diagnose_by_rules,
plan_by_rules) on the incident the conftest stand-in derives, not through the graph;
`agentops eval --perturb` runs the same variants through the whole lifecycle.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentops.agents import diagnose_by_rules, gather_evidence, plan_by_rules
from agentops.cases import Case, load_case, read_case
from agentops.evals.perturb import KINDS, variants
from agentops.store import create_store_engine, init_schema, queries
from tests.unit.agents.conftest import alerts_from_store, incident_for

CASES = Path(__file__).resolve().parents[3] / "evals" / "cases"
CASE_DIRS = sorted(d for d in CASES.iterdir() if (d / "case.yaml").is_file())

Verdict = tuple[str | None, frozenset[tuple[str, str]]]


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the schema and no rows; each run copies it (creating the schema for
    every one of some 800 runs would take most of this test's time)."""
    path = tmp_path_factory.mktemp("schema") / "empty.db"
    engine = create_store_engine(f"sqlite:///{path}")
    init_schema(engine)
    engine.dispose()
    return path


def offline_verdict(case: Case, folder: Path, empty: Path) -> Verdict:
    """(category, {(action type, target)}) the analyzers give the case; (None, {}) when no
    model breaches."""
    folder.mkdir(parents=True)
    shutil.copyfile(empty, folder / "store.db")
    engine = create_store_engine(f"sqlite:///{folder / 'store.db'}")
    try:
        load_case(engine, case)
        with engine.connect() as conn:
            names = [case.model] if case.model else queries.model_names(conn)
            found = [(n, a) for n in names if (a := alerts_from_store(conn, n, case.now))]
            if not found:
                return None, frozenset()
            model, alerts = found[0]
            incident = incident_for(alerts, model, case.now)
            evidence = gather_evidence(conn, incident, case.now)
    finally:
        engine.dispose()
    diagnosis = diagnose_by_rules(incident, evidence, "")
    plan = plan_by_rules(incident, diagnosis, evidence=evidence)
    return diagnosis.category.value, frozenset((a.type.value, a.target) for a in plan.actions)


@pytest.mark.parametrize("folder", CASE_DIRS, ids=[d.name for d in CASE_DIRS])
def test_every_variant_gets_the_cases_category_and_actions(
    folder: Path, tmp_path: Path, empty_store: Path
) -> None:
    case = read_case(folder)
    expected = offline_verdict(case, tmp_path / "case", empty_store)
    rc = case.expect.root_cause
    if rc is not None and rc.category is not None:
        assert expected[0] == rc.category.value  # the case itself is right to begin with
    generated = variants(case)
    assert {v.kind for v in generated} >= set(KINDS) - {
        "reworded",
        "restructured",
        "note-existing-run",
    }, "every generator that has something to change made a variant"
    flipped = {}
    for variant in generated:
        got = offline_verdict(variant.case, tmp_path / variant.kind, empty_store)
        if got != expected:
            flipped[variant.kind] = (got[0], sorted(got[1] ^ expected[1]))
    assert not flipped, f"{case.id}: variants changed the diagnosis or plan: {flipped}"
