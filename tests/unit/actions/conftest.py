"""Actions tests run in outbox mode (no credentials) unless they start stand-in servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.actions import Policy
from agentops.settings import Settings
from agentops.store import Stores
from tests.conftest import make_stores

from .builders import make_settings, policy_with_contacts


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home")


@pytest.fixture
def store(cfg: Settings) -> Iterator[Stores]:
    """The home's two databases: `.monitoring` (contract tables, registry) and `.state`
    (ledger, outbox, incidents as agentops handles them)."""
    made = make_stores(cfg)
    yield made
    made.dispose()


@pytest.fixture
def monitoring(store: Stores) -> sa.Engine:
    return store.monitoring


@pytest.fixture
def policy(cfg: Settings) -> Policy:
    return policy_with_contacts(cfg)
