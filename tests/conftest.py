"""Fixtures shared by every test: an isolated AGENTOPS_HOME and a SQLite store in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema

# A fixed clock: every test that needs "now" uses this, never the wall clock.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    eng = create_store_engine(settings.resolved_database_url)
    init_schema(eng)
    yield eng
    eng.dispose()
