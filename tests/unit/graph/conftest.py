"""A seeded store and settings for graph tests: two days of history is enough for every
scenario's signature and keeps each lifecycle run to a couple of seconds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.scenarios import seed_store
from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema
from tests.conftest import NOW

APPROVER = "alice"


@pytest.fixture
def graph_settings(tmp_path: Path) -> Settings:
    # lexical embeddings: retrieval is not under test here, and it needs no model file
    return Settings.load(home=tmp_path / "home", approvers=APPROVER, embeddings="lexical")


@pytest.fixture
def seeded(graph_settings: Settings) -> Callable[[str | None], sa.Engine]:
    def seed(scenario: str | None) -> sa.Engine:
        engine = create_store_engine(graph_settings.resolved_database_url)
        init_schema(engine)
        seed_store(engine, NOW, scenario, hours=48)
        return engine

    return seed
