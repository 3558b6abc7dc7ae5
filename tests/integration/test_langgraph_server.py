"""The graph on a real `langgraph dev` server, driven through langgraph_sdk as Studio and
deployments drive it: run to the approval interrupt, read the payload and thread state,
resume with `command={"resume": ...}`, and read the endpoints Studio draws from."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from agentops.scenarios import seed_store
from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema
from agentops.store.tables import model_registry, retrain_jobs
from tests.conftest import NOW

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
GRAPH = "incident"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("server-home")
    port = free_port()
    env = {
        **os.environ,
        "AGENTOPS_HOME": str(home),
        "AGENTOPS_APPROVERS": "alice",
        "AGENTOPS_EMBEDDINGS": "lexical",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGSMITH_TRACING": "false",
    }
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "langgraph"),
            "dev",
            "--no-browser",
            "--no-reload",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((home / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield {"url": url, "home": home, "pid": proc.pid}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture
def client(server) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=server["url"]) as sdk:
        yield sdk


def seed(server, scenario: str) -> sa.Engine:
    settings = Settings.load(home=server["home"])
    engine = create_store_engine(settings.resolved_database_url)
    init_schema(engine)
    seed_store(engine, NOW, scenario, hours=48)
    return engine


def run_to_interrupt(client: SyncLangGraphClient) -> tuple[str, dict[str, Any]]:
    thread = client.threads.create()
    client.runs.wait(
        thread["thread_id"],
        GRAPH,
        input={"model_name": "classifier_v2", "now": "2026-11-20T12:00:00Z"},
    )
    state = client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["request_approval"]
    [payload] = [i["value"] for task in state["tasks"] for i in task.get("interrupts", [])]
    return thread["thread_id"], payload


def active_version(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(model_registry.c.model_version).where(model_registry.c.active)
            ).scalars()
        )


def test_approve_through_the_server(server, client) -> None:
    engine = seed(server, "upstream_data_change")
    thread_id, payload = run_to_interrupt(client)
    assert payload["kind"] == "approval_request"
    assert payload["action"] == {
        "type": "retrain_model",
        "target": "classifier_v2",
        "reason": payload["action"]["reason"],
        "params": payload["action"]["params"],
    }
    assert "V14" in payload["why"] and payload["risk"] and payload["approvers"] == ["alice"]
    state = client.threads.get_state(thread_id)
    assert state["values"]["incident"]["severity"] == "P1"
    result = client.runs.wait(
        thread_id,
        GRAPH,
        command={"resume": {"decision": "approve", "approver": "alice", "comment": "go"}},
    )
    assert result["incident"]["status"] == "resolved"
    assert result["escalated_to"] == ["data_engineering_lead"]
    assert ("retrain_model", "succeeded") in {
        (a["action"]["type"], a["status"]) for a in result["actions_taken"]
    }
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(retrain_jobs)).scalar() == 1
    assert client.threads.get_state(thread_id)["next"] == []


def test_reject_through_the_server(server, client) -> None:
    engine = seed(server, "bad_deployment")
    thread_id, payload = run_to_interrupt(client)
    assert payload["action"]["type"] == "rollback_model"
    result = client.runs.wait(
        thread_id,
        GRAPH,
        command={"resume": {"decision": "reject", "approver": "alice", "comment": "peak hour"}},
    )
    assert result["incident"]["status"] == "escalated"
    assert "ml_team_lead" in result["escalated_to"]
    assert active_version(engine) == ["2.4.0"]


def test_unauthorized_approver_executes_nothing(server, client) -> None:
    engine = seed(server, "bad_deployment")
    thread_id, _ = run_to_interrupt(client)
    client.runs.wait(
        thread_id, GRAPH, command={"resume": {"decision": "approve", "approver": "mallory"}}
    )
    state = client.threads.get_state(thread_id)
    assert state["next"] == ["request_approval"]
    [again] = [i["value"] for task in state["tasks"] for i in task.get("interrupts", [])]
    assert "'mallory' is not an authorized approver" in again["problem"]
    assert active_version(engine) == ["2.4.0"]
    result = client.runs.wait(
        thread_id, GRAPH, command={"resume": {"decision": "approve", "approver": "alice"}}
    )
    assert result["incident"]["status"] == "resolved"
    assert active_version(engine) == ["2.3.0"]


def test_studio_endpoints(client) -> None:
    [assistant] = client.assistants.search(graph_id=GRAPH)
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert set(schemas["input_schema"]["properties"]) == {"model_name", "now"}
    assert {"incident", "actions_taken", "postmortem_path"} <= set(
        schemas["output_schema"]["properties"]
    )
    assert {"model", "approvers", "auto_approve"} <= set(schemas["context_schema"]["properties"])
    drawn = client.assistants.get_graph(assistant["assistant_id"])
    assert {n["id"] for n in drawn["nodes"]} >= {
        "detect",
        "triage",
        "investigate",
        "remediate",
        "execute_action",
        "request_approval",
        "postmortem",
    }
