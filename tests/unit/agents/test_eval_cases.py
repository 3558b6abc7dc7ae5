"""Offline, the analyzers give every eval case its expected category, mentions and actions.

The incident comes from the small threshold stand-in in conftest (detection is its own
module), so this checks diagnosis and planning on the cases' data, not detection.
Escalations after a rejected approval belong to the graph and are not checked here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.agents import diagnose_by_rules, gather_evidence, plan_by_rules
from agentops.cases import Case, load_case, read_case
from agentops.store import create_store_engine, init_schema, queries
from tests.unit.agents.conftest import alerts_from_store, incident_for

CASES = Path(__file__).resolve().parents[3] / "evals" / "cases"


def _cases() -> list[Case]:
    found = [read_case(d) for d in sorted(CASES.iterdir()) if (d / "case.yaml").is_file()]
    return [c for c in found if c.expect.root_cause is not None]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.id)
def test_offline_diagnosis_and_plan_meet_the_case(case: Case, tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_schema(engine)
    load_case(engine, case)
    with engine.connect() as conn:
        names = [case.model] if case.model else queries.model_names(conn)
        # the model whose windows breach: a case may hold a healthy fleet around it
        model, alerts = next(
            (name, found) for name in names if (found := alerts_from_store(conn, name, case.now))
        )
        incident = incident_for(alerts, model, case.now)
        evidence = gather_evidence(conn, incident, case.now)
    diagnosis = diagnose_by_rules(incident, evidence, "")
    expected = case.expect.root_cause
    assert expected is not None
    if expected.category is not None:
        assert diagnosis.category == expected.category
    for word in expected.mentions:
        assert word.lower() in diagnosis.root_cause.lower()
    kinds = {a.type for a in plan_by_rules(incident, diagnosis, evidence=evidence).actions}
    if case.expect.actions is not None:
        assert set(case.expect.actions.include) <= kinds
        assert not set(case.expect.actions.exclude) & kinds
