"""Signed Slack clicks against real servers: `agentops serve` (threads resumed in its own
process) and `langgraph dev` with the project's langgraph.json (the same app mounted through
`http.app`, threads resumed through the server as the person who clicked). Slack itself is
the stand-in on 127.0.0.1; every click is signed with the signing secret, as Slack signs."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from langgraph_sdk import get_sync_client

from agentops.scenarios import seed_store
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import queries as q
from agentops.store.state_tables import answers
from tests.conftest import NOW, make_stores
from tests.fakes.slack_server import FakeSlack, running_slack
from tests.unit.graph.conftest import run_pass
from tests.unit.server.conftest import SECRET, click_body, signed

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
TOKENS = {"alice": "alice-secret-token", "bob": "bob-secret-token"}
POLICY = """
contacts:
  alice: {slack: U0ALICE}
  bob: {slack: U0BOB}
  mallory: {slack: U0MAL}
roles:
  ml_team_lead: [alice]
approvers: [alice, bob]
auth:
  tokens:
""" + "".join(
    f"    {name}: {hashlib.sha256(token.encode()).hexdigest()}\n" for name, token in TOKENS.items()
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running_slack() as fake:
        yield fake


def environment(home: Path, slack: FakeSlack) -> dict[str, str]:
    return {
        **os.environ,
        "AGENTOPS_HOME": str(home),
        "AGENTOPS_APPROVERS": "",
        "AGENTOPS_EMBEDDINGS": "lexical",
        "AGENTOPS_SLACK_TOKEN": "xoxb-test",
        "AGENTOPS_SLACK_BASE_URL": slack.base_url,
        "AGENTOPS_SLACK_SIGNING_SECRET": SECRET,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGSMITH_TRACING": "false",
    }


def settings_for(home: Path, slack: FakeSlack) -> Settings:
    return Settings.load(
        home=home,
        approvers="",
        embeddings="lexical",
        slack_token="xoxb-test",
        slack_base_url=slack.base_url,
    )


def start(command: list[str], env: dict[str, str], log: Path, url: str, ready: str) -> Any:
    """Start a server process and wait until `url + ready` answers at all."""
    handle = log.open("w")
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"{url}{ready}", timeout=2)
            return proc, handle
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc, handle)
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.3)


def stop(proc: Any, handle: Any) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
    handle.close()


def until(check: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def ledger_entry(stores: Stores, key: str) -> tuple[str, str | None, str | None] | None:
    with stores.state.connect() as conn:
        for entry in q.action_log_for(conn, key.split("|", 1)[0]):
            if entry["idempotency_key"] == key:
                return entry["status"], entry["approved_by"], entry.get("approved_via")
    return None


def _finished(stores: Stores, key: str) -> tuple[str, str | None, str | None] | None:
    entry = ledger_entry(stores, key)
    return entry if entry is not None and entry[0] != "started" else None


def click(url: str, slack: FakeSlack, user: str, action: str, key: str) -> httpx.Response:
    body = click_body(user, action, key, response_url=slack.response_url())
    return httpx.post(f"{url}/slack/interactions", content=body, headers=signed(body), timeout=10)


# ---- agentops serve -------------------------------------------------------------------------
def test_agentops_serve_takes_a_signed_click_acks_at_once_and_runs_it_once(
    tmp_path: Path, slack: FakeSlack
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(POLICY, encoding="utf-8")
    cfg = settings_for(home, slack)
    stores = make_stores(cfg)
    seed_store(stores, NOW, "bad_deployment", hours=48)
    run_pass(cfg, decider=None)
    with stores.state.connect() as conn:
        [row] = q.list_incidents(conn, limit=5)
    key = f"{row['incident_id']}|rollback_model|classifier_v2"
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "agentops", "serve", "--port", url.rsplit(":", 1)[1]]
    proc, log = start(command, environment(home, slack), tmp_path / "serve.log", url, "/healthz")
    try:
        health = httpx.get(f"{url}/healthz")
        assert health.status_code == 503, "no worker has run a pass that beat yet"

        forged = click_body("U0ALICE", "agentops_approve", key, response_url=slack.response_url())
        refused = httpx.post(
            f"{url}/slack/interactions", content=forged, headers=signed(forged, secret="guess")
        )
        assert refused.status_code == 401

        # Slack is slow to update messages: the click is acknowledged anyway, within
        # Slack's 3 s, with the answer recorded and the rollback still to run
        slack.delays["chat.update"] = 4.0
        started = time.monotonic()
        response = click(url, slack, "U0ALICE", "agentops_approve", key)
        assert response.status_code == 200
        assert time.monotonic() - started < 3, "Slack wants its acknowledgement within 3 s"
        with stores.state.connect() as conn:
            [recorded] = conn.execute(sa.select(answers)).mappings().all()
        assert (recorded["person"], recorded["via"], recorded["applied_at"]) == (
            "alice",
            "slack",
            None,
        )
        assert ledger_entry(stores, key) is None, "the rollback runs after the acknowledgement"
        slack.delays.clear()
        assert until(
            lambda: ledger_entry(stores, key) == ("succeeded", "alice", "slack"), "the rollback"
        )
        until(
            lambda: any("classifier_v2: succeeded" in u["text"] for u in slack.updates),
            "the message update",
        )
        assert all("Approved by alice at" in u["text"] for u in slack.updates)

        replayed = click(url, slack, "U0ALICE", "agentops_approve", key)
        mallory = click(url, slack, "U0MAL", "agentops_reject", key)
        assert (replayed.status_code, mallory.status_code) == (200, 200)
        until(lambda: len(slack.responses) >= 2, "two ephemeral answers")
        said = [r["text"] for r in slack.responses]
        assert any(s.startswith("Already approved by alice") for s in said), said
        assert any(s.startswith("You may not approve this") for s in said), said
        with stores.state.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(answers)).scalar() == 1
        assert ledger_entry(stores, key) == ("succeeded", "alice", "slack")

        # a pass that beats (`agentops run`) makes the responder healthy
        ran = subprocess.run(
            [sys.executable, "-m", "agentops", "run", "--now", "2026-11-20T13:00:00Z"],
            env=environment(home, slack),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        health = httpx.get(f"{url}/healthz")
        assert health.status_code == 200, health.text
        assert health.json()["workers"][0]["last_pass_status"] == "ok"
    finally:
        stop(proc, log)
        stores.dispose()


# ---- the same app on langgraph dev ----------------------------------------------------------
@pytest.fixture(scope="module")
def lg_slack() -> Iterator[FakeSlack]:
    with running_slack() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, lg_slack: FakeSlack) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("lg-home")
    (home / "config.yaml").write_text(POLICY, encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(Path(sys.executable).parent / "langgraph"),
        "dev",
        "--no-browser",
        "--no-reload",
        "--port",
        str(port),
    ]
    proc, log = start(command, environment(home, lg_slack), home / "server.log", url, "/ok")
    try:
        yield {"url": url, "home": home}
    finally:
        stop(proc, log)


def test_on_langgraph_dev_a_signed_click_resumes_the_thread_as_that_person(
    server: dict, lg_slack: FakeSlack
) -> None:
    stores = make_stores(Settings.load(home=server["home"]))
    seed_store(stores, NOW, "bad_deployment", hours=48)
    with get_sync_client(
        url=server["url"], headers={"Authorization": f"Bearer {TOKENS['alice']}"}
    ) as alice:
        _approve_on_server(server, lg_slack, alice, stores)
    stores.dispose()


def _approve_on_server(server: dict, lg_slack: FakeSlack, alice: Any, stores: Stores) -> None:
    thread = alice.threads.create()
    alice.runs.wait(
        thread["thread_id"],
        "incident",
        input={"model_name": "classifier_v2", "now": "2026-11-20T12:00:00Z"},
    )
    state = alice.threads.get_state(thread["thread_id"])
    assert state["next"] == ["request_approval"], state
    incident_id = state["values"]["incident"]["incident_id"]
    key = f"{incident_id}|rollback_model|classifier_v2"
    assert any(p["text"].startswith("🔐 Approval needed") for p in lg_slack.posts)

    mallory = click(server["url"], lg_slack, "U0MAL", "agentops_approve", key)
    assert mallory.status_code == 200
    until(lambda: lg_slack.responses, "mallory's ephemeral answer")
    assert lg_slack.responses[0]["text"].startswith("You may not approve this")
    assert alice.threads.get_state(thread["thread_id"])["next"] == ["request_approval"]

    started = time.monotonic()
    response = click(server["url"], lg_slack, "U0BOB", "agentops_approve", key)
    assert response.status_code == 200 and time.monotonic() - started < 3
    entry = until(lambda: _finished(stores, key), "the rollback on the server")
    assert entry[:2] == ("succeeded", "bob"), entry
    until(
        lambda: alice.threads.get_state(thread["thread_id"])["next"] == ["await_recovery"],
        "the thread to wait for recovery",
    )
    decided = until(
        lambda: [u for u in lg_slack.updates if "classifier_v2: succeeded" in u["text"]],
        "the message update",
    )
    assert all("Approved by bob at" in u["text"] for u in decided)
    with stores.state.connect() as conn:
        [answer] = [dict(a) for a in conn.execute(sa.select(answers)).mappings()]
        row = q.get_incident_row(conn, incident_id)
    assert (answer["person"], answer["via"], answer["outcome"]) == (
        "bob",
        "slack",
        "decided: approve by bob",
    )
    assert row is not None and row["status"] == "monitoring"
    notes = [t.note for t in q.incident_timeline(row) if t.phase == "approval_decided"]
    assert notes and notes[0].startswith("approve by bob")
