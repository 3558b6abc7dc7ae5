"""`GET /healthz`: what an outside monitor reads to page when the responder itself stops."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from agentops.clock import utcnow
from agentops.server.app import create_app
from agentops.settings import Settings
from agentops.store import open_state, workers
from agentops.store.load import to_db_time
from agentops.store.state_tables import workers as workers_table


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


@pytest.fixture
def state(cfg: Settings) -> Iterator[sa.Engine]:
    engine = open_state(cfg.resolved_state_url)
    yield engine
    engine.dispose()


@pytest.fixture
def client(cfg: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(cfg, resume="local", stale_after_s=180)) as test_client:
        yield test_client


def _age(state: sa.Engine, worker_id: str, seconds: int) -> None:
    """The worker's last pass finished `seconds` ago."""
    at = to_db_time(utcnow() - timedelta(seconds=seconds), what="at")
    with state.begin() as conn:
        conn.execute(
            workers_table.update()
            .where(workers_table.c.worker_id == worker_id)
            .values(last_pass_at=at, last_beat=at)
        )


def test_no_worker_ever_ran_a_pass_is_unhealthy(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "stale" and body["workers"] == []
    assert "agentops watch" in body["reason"]


def test_a_recent_pass_is_healthy_and_shows_each_worker(client, state) -> None:
    workers.beat(state, "watch:host:1:abc", "watch", status="ok")
    workers.beat(state, "watch:host:2:def", "watch", status="error", detail="INC-1: boom")
    _age(state, "watch:host:2:def", 3600)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["stale_after_s"] == 180
    assert [w["worker_id"] for w in body["workers"]] == ["watch:host:1:abc", "watch:host:2:def"]
    first, second = body["workers"]
    assert (first["kind"], first["last_pass_status"]) == ("watch", "ok")
    assert first["last_pass_at"].endswith("Z") and first["last_beat"]
    assert (second["last_pass_status"], second["detail"]) == ("error", "INC-1: boom")
    assert body["last_pass_at"] == first["last_pass_at"]


def test_no_pass_within_the_window_is_a_503_a_monitor_can_page_on(client, state) -> None:
    workers.beat(state, "watch:host:1:abc", "watch", status="ok")
    _age(state, "watch:host:1:abc", 181)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "no worker finished a pass in the last 180 s" in response.json()["reason"]


def test_a_pass_that_failed_is_not_a_pass(client, state) -> None:
    workers.beat(state, "watch:host:1:abc", "watch", status="failed", detail="StoreError: down")
    response = client.get("/healthz")
    assert response.status_code == 503
    [worker] = response.json()["workers"]
    assert worker["detail"] == "StoreError: down"


def test_the_window_is_configurable(cfg, state) -> None:
    workers.beat(state, "watch:host:1:abc", "watch", status="ok")
    _age(state, "watch:host:1:abc", 600)
    with TestClient(create_app(cfg, resume="local", stale_after_s=900)) as client:
        assert client.get("/healthz").status_code == 200
