"""The analyzers decide from structure; notes, runbooks and past incidents only corroborate.

Each test takes a seeded scenario (conftest) and adds one thing a responder might see:
a note, a deployment, a second cause, a runbook passage. The category moves only when the
structure does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from agentops.agents import (
    diagnose_by_rules,
    gather_evidence,
    plan_by_rules,
    rank_hypotheses,
    with_references,
)
from agentops.domain import Diagnosis, Evidence, Incident, RootCauseCategory
from agentops.store.load import load_tables
from agentops.store.tables import data_quality
from tests.unit.agents.conftest import NOW

C = RootCauseCategory
RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"
Seed = Callable[[str], Incident]


def run(run_id: str, hours_ago: float, notes: str, status: str = "success") -> dict[str, Any]:
    started = NOW - timedelta(hours=hours_ago)
    return {
        "run_id": run_id,
        "pipeline_name": "transactions_etl",
        "model_name": "classifier_v2",
        "source": "vendor_api",
        "started_at": started,
        "finished_at": started + timedelta(minutes=20),
        "status": status,
        "rows_processed": 54000,
        "notes": notes,
    }


def diagnosed(
    store: sa.Engine, incident: Incident, **extra: list[dict[str, Any]]
) -> tuple[Diagnosis, list[Evidence]]:
    if extra:
        load_tables(store, extra)
    with store.connect() as conn:
        evidence = gather_evidence(conn, incident, NOW)
    return diagnose_by_rules(incident, evidence, ""), evidence


def test_a_change_note_about_features_that_did_not_move_is_not_an_upstream_change(
    seeded: Seed, store: sa.Engine
) -> None:
    incident = seeded("bad_deployment")
    note = "vendor now encodes merchant codes as strings; V9 is derived from them"
    diagnosis, _ = diagnosed(store, incident, pipeline_runs=[run("r-note", 4.5, note)])
    assert diagnosis.category == C.bad_deployment


def test_a_note_denying_or_announcing_a_change_to_the_drifting_features_links_nothing(
    seeded: Seed, store: sa.Engine
) -> None:
    incident = seeded("adversarial")
    denials = [
        run("r-same", 4.5, "V4 and V11 unchanged; routine load"),
        run("r-later", 4.4, "from 2027-03-01 V4 and V11 will arrive in a new encoding"),
    ]
    diagnosis, evidence = diagnosed(store, incident, pipeline_runs=denials)
    assert diagnosis.category == C.adversarial
    assert C.upstream_data_change not in {h.category for h in rank_hypotheses(incident, evidence)}


def test_the_same_note_saying_the_change_happened_does_link_the_run(
    seeded: Seed, store: sa.Engine
) -> None:
    incident = seeded("adversarial")
    claim = run("r-now", 4.5, "V4 and V11 now arrive in a new encoding from the vendor")
    _, evidence = diagnosed(store, incident, pipeline_runs=[claim])
    upstream = next(
        h for h in rank_hypotheses(incident, evidence) if h.category.value.startswith("up")
    )
    assert "run:r-now" in upstream.evidence_ids


def test_a_release_already_judged_by_healthy_windows_is_not_blamed(
    seeded: Seed, store: sa.Engine
) -> None:
    incident = seeded("infrastructure")
    release = {
        "deployment_id": "dep-early",
        "model_name": "classifier_v2",
        "model_version": "2.3.0",
        "previous_version": "2.2.0",
        "deployed_at": NOW - timedelta(hours=9),
    }
    diagnosis, evidence = diagnosed(store, incident, deployments=[release])
    assert diagnosis.category == C.infrastructure
    assert next(e for e in evidence if e.id == "deploy:dep-early").data["healthy_since"] >= 1


def test_two_causes_at_the_onset_leave_the_decision_to_a_person(
    seeded: Seed, store: sa.Engine
) -> None:
    incident = seeded("bad_deployment")
    clean, _ = diagnosed(store, incident)
    onset = NOW - timedelta(hours=3)  # the first window served by 2.4.0 starts here
    partial = run("r-partial", 3.2, "transfer cut off; enrichment columns missing", "partial")
    latest = data_quality.c.window_end == NOW.replace(tzinfo=None)
    with store.begin() as conn:  # V1 and V2 a little null since then: under the P2 line
        conn.execute(
            sa.update(data_quality)
            .where(data_quality.c.feature_name.in_(["V1", "V2"]), latest)
            .values(null_rate=0.09)
        )
    assert partial["started_at"] < onset
    mixed, evidence = diagnosed(store, incident, pipeline_runs=[partial])
    assert clean.category == C.bad_deployment
    assert mixed.category == C.unknown
    assert [t.value for t in mixed.escalate_to] == ["ml_team_lead"]
    assert "bad_deployment" in mixed.root_cause and "pipeline_failure" in mixed.root_cause
    planned = plan_by_rules(incident, mixed, evidence=evidence).actions
    assert not any(a.requires_approval for a in planned)
    # confidence follows the evidence: a clean signature is surer than a contested one was
    assert clean.confidence > 1 - mixed.confidence


def _passage(stem: str, score: float) -> dict[str, Any]:
    text = (RUNBOOKS / f"{stem}.md").read_text(encoding="utf-8")
    return {"runbook": stem, "section": "Symptoms", "text": text[:600], "score": score}


def test_runbooks_and_past_incidents_are_cited_when_about_the_category_and_never_decide(
    seeded: Seed, store: sa.Engine
) -> None:
    incident = seeded("bad_deployment")
    _, evidence = diagnosed(store, incident)
    hits = [
        _passage("rollback", 0.72),
        _passage("latency_spike", 0.74),
        _passage("model_drift", 0.3),
    ]
    similar = [
        {"incident_id": "INC-A", "root_cause_category": "bad_deployment", "root_cause": "release",
         "resolution": "rolled back to the previous version", "score": 0.8},
        {"incident_id": "INC-B", "root_cause_category": "adversarial", "root_cause": "bots",
         "score": 0.9},
    ]  # fmt: skip
    enriched = with_references(evidence, runbook_hits=hits, incident_hits=similar)
    assert len({e.id for e in enriched}) == len(enriched)
    diagnosis = diagnose_by_rules(incident, enriched, "")
    assert diagnosis.category == diagnose_by_rules(incident, evidence, "").category
    assert diagnosis.confidence == diagnose_by_rules(incident, evidence, "").confidence
    cited = set(diagnosis.evidence_ids)
    assert "runbook:rollback#Symptoms" in cited
    assert "incident:INC-A" in cited
    assert not cited & {"runbook:latency_spike#Symptoms", "runbook:model_drift#Symptoms"}
    assert "incident:INC-B" not in cited
    # a rival category's history does not pull the answer towards it
    only_rival = with_references(evidence, incident_hits=similar[1:] * 3)
    assert diagnose_by_rules(incident, only_rival, "").category == C.bad_deployment


def test_a_routine_run_of_the_pipeline_named_after_a_drifting_feature_is_not_a_change(
    seeded: Seed, store: sa.Engine
) -> None:
    incident = seeded("adversarial")
    routine = {**run("r-v4", 4.5, ""), "pipeline_name": "V4_aggregates"}
    diagnosis, evidence = diagnosed(store, incident, pipeline_runs=[routine])
    assert next(e for e in evidence if e.id == "run:r-v4").data["features_in_name"] == ["V4"]
    assert diagnosis.category == C.adversarial
    assert C.upstream_data_change not in {h.category for h in rank_hypotheses(incident, evidence)}
