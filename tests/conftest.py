"""Fixtures shared by every test: an isolated AGENTOPS_HOME, its monitoring database (the
contract's tables) and its state store (what agentops owns), both SQLite files in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.settings import Settings
from agentops.store import Stores, open_monitoring, open_state

# A fixed clock: every test that needs "now" uses this, never the wall clock.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def make_stores(settings: Settings) -> Stores:
    """The settings' two databases, created empty."""
    return Stores(
        monitoring=open_monitoring(settings.resolved_database_url, create=True),
        state=open_state(settings.resolved_state_url),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


@pytest.fixture
def stores(settings: Settings) -> Iterator[Stores]:
    made = make_stores(settings)
    yield made
    made.dispose()


@pytest.fixture
def engine(stores: Stores) -> sa.Engine:
    """The monitoring database."""
    return stores.monitoring


def seeded_stores(folder: Path, scenario: str | None, *, hours: int = 14 * 24) -> Stores:
    """A home in `folder` seeded with `scenario` up to NOW (None: healthy history)."""
    from agentops.scenarios import seed_store

    stores = make_stores(Settings.load(home=folder))
    seed_store(stores, NOW, scenario, hours=hours)
    return stores
