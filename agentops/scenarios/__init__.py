"""Realistic monitoring data for classifier_v2, with one scenario per root-cause category."""

from __future__ import annotations

from datetime import datetime

from agentops.scenarios.history import FRAUD_FEATURES, History, baseline
from agentops.scenarios.scenarios import (
    DEFAULT_SCENARIO,
    SCENARIOS,
    Scenario,
    build_world,
    recovery_rows,
)
from agentops.store import Stores
from agentops.store.engine import reset_state
from agentops.store.load import load_tables


def seed_store(
    stores: Stores, now: datetime, scenario: str | None, *, hours: int = 14 * 24
) -> dict[str, int]:
    """Replace the monitoring tables with 14 days of history and the named scenario.

    The data tables are replaced in one transaction; everything agentops owns in the state
    store (incidents, ledger, outbox, checkpoints, ...) is cleared first, since the world it
    belongs to is gone.
    """
    world = build_world(now, scenario, hours=hours)
    reset_state(stores.state)
    return load_tables(stores.monitoring, world.tables, replace=True)


__all__ = [
    "DEFAULT_SCENARIO",
    "FRAUD_FEATURES",
    "SCENARIOS",
    "History",
    "Scenario",
    "baseline",
    "build_world",
    "recovery_rows",
    "seed_store",
]
