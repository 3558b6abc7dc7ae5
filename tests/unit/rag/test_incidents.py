"""Similar past incidents: scores, why they match, and every post-mortem adding its incident."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from agentops.errors import DataError
from agentops.rag import add_incident, similar_incidents
from agentops.rag import incidents as incident_search
from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema
from agentops.store.tables import incidents

from .conftest import CountingLexical

HISTORY = [
    {
        "incident_id": "INC-2026-0723-1",
        "severity": "P1",
        "alert_types": "model_performance,feature_drift",
        "root_cause_category": "upstream_data_change",
        "root_cause": "Card issuer vendor switched currency encoding; V12 and Amount shifted",
        "resolution": "Pipeline patched to decode new format; model retrained on clean data",
    },
    {
        "incident_id": "INC-2026-0901-1",
        "severity": "P1",
        "alert_types": "model_performance",
        "root_cause_category": "bad_deployment",
        "root_cause": "Version 2.0.1 shipped with a stale feature scaler; F1 fell to 0.58",
        "resolution": "Rolled back to 2.0.0; scaler check added to the release pipeline",
    },
    {
        "incident_id": "INC-2026-1031-1",
        "severity": "P2",
        "alert_types": "data_quality",
        "root_cause_category": "pipeline_failure",
        "root_cause": "transactions_etl partial run left V1-V5 null for 30% of rows",
        "resolution": "Data engineering re-ran the ETL; nulls cleared within two windows",
    },
    {  # still open: nothing to learn from yet
        "incident_id": "INC-2026-1120-1",
        "severity": "P1",
        "alert_types": "model_performance",
        "root_cause_category": None,
        "root_cause": None,
        "resolution": None,
    },
]


@pytest.fixture
def store(cfg: Settings) -> sa.Engine:
    eng = create_store_engine(cfg.resolved_database_url)
    init_schema(eng)
    with eng.begin() as conn:
        for row in HISTORY:
            conn.execute(
                incidents.insert().values(
                    model_name="classifier_v2", opened_at=datetime(2026, 7, 23, 12), **row
                )
            )
    return eng


def test_the_matching_incident_comes_first_with_why(store: sa.Engine, cfg: Settings) -> None:
    hits = similar_incidents(store, cfg, "F1 fell right after version 2.4.0 shipped", k=3)
    assert hits[0].incident_id == "INC-2026-0901-1"
    assert hits[0].score > hits[1].score
    assert any(w.startswith("root cause:") and "version" in w for w in hits[0].why)
    assert hits[0].resolution and "Rolled back" in hits[0].resolution
    assert hits[0].alert_types == ["model_performance"]
    nulls = similar_incidents(store, cfg, "null rate spiked after the ETL run was partial", k=1)
    assert nulls[0].incident_id == "INC-2026-1031-1"
    assert any(w.startswith("root cause:") and "etl" in w for w in nulls[0].why)


def test_open_incidents_are_not_matches_and_exclude_drops_one(
    store: sa.Engine, cfg: Settings
) -> None:
    ids = {h.incident_id for h in similar_incidents(store, cfg, "model performance", k=10)}
    assert ids == {"INC-2026-0723-1", "INC-2026-0901-1", "INC-2026-1031-1"}
    kept = similar_incidents(
        store, cfg, "F1 fell after a release", k=3, exclude={"INC-2026-0901-1"}
    )
    assert [h.incident_id for h in kept] and "INC-2026-0901-1" not in {h.incident_id for h in kept}


def test_a_post_mortem_adds_its_incident_and_only_it_is_embedded(
    store: sa.Engine, cfg: Settings, counting: CountingLexical
) -> None:
    similar_incidents(store, cfg, "anything", k=1)
    counting.embedded.clear()
    with store.begin() as conn:
        conn.execute(
            incidents.update()
            .where(incidents.c.incident_id == "INC-2026-1120-1")
            .values(
                root_cause_category="infrastructure",
                root_cause="Autoscaler ceiling of 6 replicas hit during a flash sale",
                resolution="Ceiling raised to 12 replicas",
            )
        )
    add_incident(store, cfg, "INC-2026-1120-1")
    assert len(counting.embedded) == 1 and "Autoscaler" in counting.embedded[0]
    # a new process finds it from the persisted index without embedding the rest again
    incident_search.clear_cache()
    counting.embedded.clear()
    hits = similar_incidents(store, cfg, "autoscaler replicas flash sale", k=1)
    assert hits[0].incident_id == "INC-2026-1120-1" and counting.embedded == [
        "autoscaler replicas flash sale"
    ]


def test_add_incident_refuses_unknown_or_undiagnosed_incidents(
    store: sa.Engine, cfg: Settings
) -> None:
    with pytest.raises(DataError, match="no incident 'INC-1999-0101-1'"):
        add_incident(store, cfg, "INC-1999-0101-1")
    with pytest.raises(DataError, match="no root cause or resolution yet"):
        add_incident(store, cfg, "INC-2026-1120-1")


def test_an_empty_description_is_an_error(store: sa.Engine, cfg: Settings) -> None:
    with pytest.raises(DataError, match="non-empty"):
        similar_incidents(store, cfg, "  ")
