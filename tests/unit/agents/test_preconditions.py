"""A category may be claimed only when the evidence fits it: the preconditions refuse a
model's (or a person's) claim the facts do not support, and never the rules' own answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.agents import diagnose_by_rules, gather_evidence
from agentops.agents.preconditions import check_category
from agentops.cases import Case, load_case, read_case
from agentops.domain import Evidence, Incident, RootCauseCategory
from agentops.store import create_store_engine, init_schema, queries
from tests.unit.agents.conftest import World, alerts_from_store, incident_for

C = RootCauseCategory
CASES = Path(__file__).resolve().parents[3] / "evals" / "cases"


def _case_world(case: Case, folder: Path) -> tuple[Incident, list[Evidence]]:
    engine = create_store_engine(f"sqlite:///{folder / 'store.db'}")
    init_schema(engine)
    load_case(engine, case)
    with engine.connect() as conn:
        names = [case.model] if case.model else queries.model_names(conn)
        model, alerts = next(
            (name, found) for name in names if (found := alerts_from_store(conn, name, case.now))
        )
        incident = incident_for(alerts, model, case.now)
        evidence = gather_evidence(conn, incident, case.now)
    engine.dispose()
    return incident, evidence


def _diagnosed_cases() -> list[Case]:
    found = [read_case(d) for d in sorted(CASES.iterdir()) if (d / "case.yaml").is_file()]
    return [c for c in found if c.expect.root_cause is not None]


@pytest.mark.parametrize("name", [c.value for c in C if c != C.unknown])
def test_each_scenario_fits_its_own_category_and_no_other(
    worlds: dict[str, World], name: str
) -> None:
    world = worlds[name]
    assert check_category(world.incident, world.evidence, name) is None
    for other in C:
        refusal = check_category(world.incident, world.evidence, other)
        if other in (C(name), C.unknown):
            assert refusal is None
        else:
            assert refusal is not None and refusal.startswith(f"{other.value} does not fit")


def test_each_refusal_names_what_the_evidence_lacks(worlds: dict[str, World]) -> None:
    def why(world: str, category: C) -> str:
        refusal = check_category(worlds[world].incident, worlds[world].evidence, category)
        assert refusal is not None
        return refusal

    assert "a P1 threshold is crossed" in why("infrastructure", C.benign)
    assert "a P2 threshold is crossed" in why("pipeline_failure", C.benign)
    assert "no release of classifier_v2" in why("pipeline_failure", C.bad_deployment)
    assert "upstream data change or a pipeline failure explains it" in why(
        "upstream_data_change", C.bad_deployment
    )
    assert "no failed or partial pipeline run" in why("bad_deployment", C.pipeline_failure)
    assert "no latency, error or availability breach" in why("concept_drift", C.infrastructure)
    assert "recall did not fall while precision held" in why("bad_deployment", C.adversarial)
    assert "no pipeline or source change" in why("concept_drift", C.upstream_data_change)
    assert "explains it" in why("bad_deployment", C.concept_drift)
    assert "the adversarial pattern" in why("adversarial", C.concept_drift)


def test_unknown_is_always_allowed_and_a_made_up_word_never(worlds: dict[str, World]) -> None:
    world = worlds["benign"]
    assert check_category(world.incident, world.evidence, "unknown") is None
    assert check_category(world.incident, world.evidence, "sabotage") == (
        "'sabotage' is not a root-cause category"
    )


@pytest.mark.parametrize("case", _diagnosed_cases(), ids=lambda c: c.id)
def test_the_rules_answer_on_every_eval_case_fits_its_preconditions(
    case: Case, tmp_path: Path
) -> None:
    """The preconditions are necessary conditions: the analyzers' own diagnosis (which the
    eval cases score as right) must never be refused by them."""
    incident, evidence = _case_world(case, tmp_path)
    diagnosis = diagnose_by_rules(incident, evidence, "")
    assert check_category(incident, evidence, diagnosis.category) is None


@pytest.mark.parametrize(
    ("case_id", "reason"),
    [
        # a release and a partial run together: the run explains it as well
        ("046_loan_release_and_partial_run_together", "pipeline failure explains it"),
        # a release, but a tripled volume and P2 drift, which a release cannot cause
        ("047_spam_surge_right_after_release", "traffic jumped"),
        # the release served healthy windows before the degradation began
        ("039_aml_partial_ledger_sync_after_release", "no release of aml_screening_v2"),
        # the release was another model's
        ("045_loan_concept_drift_other_model_released", "no release of"),
    ],
)
def test_a_release_nearby_is_not_enough_for_bad_deployment(
    case_id: str, reason: str, tmp_path: Path
) -> None:
    incident, evidence = _case_world(read_case(CASES / case_id), tmp_path)
    refusal = check_category(incident, evidence, C.bad_deployment)
    assert refusal is not None and reason in refusal
