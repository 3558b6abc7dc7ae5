"""Realistic monitoring data for classifier_v2, with one scenario per root-cause category."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from agentops.scenarios.history import FRAUD_FEATURES, History, baseline
from agentops.scenarios.scenarios import DEFAULT_SCENARIO, SCENARIOS, Scenario, build_world
from agentops.store.load import load_tables
from agentops.store.tables import action_log, messages, retrain_jobs


def seed_store(
    engine: sa.Engine, now: datetime, scenario: str | None, *, hours: int = 14 * 24
) -> dict[str, int]:
    """Replace the store's contents with 14 days of history and the named scenario.

    The data tables are replaced in one transaction; the ledger and outbox of the previous
    world are cleared first, since the incidents they belong to are gone.
    """
    world = build_world(now, scenario, hours=hours)
    with engine.begin() as conn:
        for table in (action_log, messages, retrain_jobs):
            conn.execute(table.delete())
    return load_tables(engine, world.tables, replace=True)


__all__ = [
    "DEFAULT_SCENARIO",
    "FRAUD_FEATURES",
    "SCENARIOS",
    "History",
    "Scenario",
    "baseline",
    "build_world",
    "seed_store",
]
