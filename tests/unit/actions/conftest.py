"""Actions tests run in outbox mode (no credentials) unless they start stand-in servers."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.actions import Policy
from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema

from .builders import make_settings, policy_with_contacts


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home")


@pytest.fixture
def store(cfg: Settings) -> sa.Engine:
    eng = create_store_engine(cfg.resolved_database_url)
    init_schema(eng)
    return eng


@pytest.fixture
def policy(cfg: Settings) -> Policy:
    return policy_with_contacts(cfg)
