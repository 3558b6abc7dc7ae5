"""The Slack app's tests: a seeded home whose incident waits for approval, the stand-in
Slack that received the approval request, and signed clicks as Slack sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from agentops.scenarios import seed_store
from agentops.server.app import create_app
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import queries as q
from agentops.store.state_tables import answers
from tests.conftest import NOW, make_stores
from tests.fakes.slack_server import FakeSlack, running_slack
from tests.unit.graph.conftest import run_pass

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
POLICY = """
contacts:
  alice: {slack: U0ALICE}
  bob: {slack: U0BOB}
  mallory: {slack: U0MAL}
roles:
  ml_team_lead: [alice]
"""
APPROVERS = "approvers: [alice, bob]\n"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running_slack() as fake:
        yield fake


def home_settings(tmp_path: Path, slack: FakeSlack, policy: str) -> Settings:
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(policy, encoding="utf-8")
    return Settings.load(
        home=home,
        approvers="",
        embeddings="lexical",
        slack_token="xoxb-test",
        slack_base_url=slack.base_url,
        slack_signing_secret=SECRET,
    )


@pytest.fixture
def cfg(tmp_path: Path, slack: FakeSlack) -> Settings:
    return home_settings(tmp_path, slack, POLICY + APPROVERS)


def seed_waiting(cfg: Settings, scenario: str = "bad_deployment") -> tuple[Stores, dict[str, Any]]:
    """The scenario seeded and one pass run: its incident waits for approval (nobody
    answered), and Slack holds the request with its buttons."""
    stores = make_stores(cfg)
    seed_store(stores, NOW, scenario, hours=48)
    run_pass(cfg, decider=None)
    with stores.state.connect() as conn:
        [row] = q.list_incidents(conn, limit=10)
    assert row["waiting_for"] == "approval", row
    return stores, row


@pytest.fixture
def waiting(cfg: Settings) -> Iterator[tuple[Stores, dict[str, Any]]]:
    stores, row = seed_waiting(cfg)
    yield stores, row
    stores.dispose()


@pytest.fixture
def client(cfg: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(cfg, resume="local")) as test_client:
        yield test_client


def click_body(
    user: str,
    action_id: str,
    value: str,
    *,
    response_url: str,
    message: tuple[str, str] | None = None,
) -> bytes:
    """A `block_actions` payload as Slack posts it (form field `payload`), abridged."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "team": {"id": "T0"},
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
        "response_url": response_url,
    }
    if message is not None:
        payload["container"] = {
            "type": "message",
            "channel_id": message[0],
            "message_ts": message[1],
        }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    """Slack's headers for `body`: v0 HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    timestamp = str(int(at if at is not None else time.time()))
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def recorded_answers(stores: Stores) -> list[dict[str, Any]]:
    with stores.state.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(answers)).mappings()]


def ledger(stores: Stores, incident_id: str) -> dict[str, tuple[str, str | None, str | None]]:
    with stores.state.connect() as conn:
        return {
            a["idempotency_key"]: (a["status"], a["approved_by"], a.get("approved_via"))
            for a in q.action_log_for(conn, incident_id)
        }


def incident(stores: Stores, incident_id: str) -> dict[str, Any]:
    with stores.state.connect() as conn:
        row = q.get_incident_row(conn, incident_id)
    assert row is not None
    return row
