"""The graph on a real `langgraph dev` server with the project's auth, driven through
langgraph_sdk as Studio, Agent Inbox and deployments drive it: run to the approval interrupt,
read the payload and thread state, resume with `command={"resume": ...}` as an authenticated
person, and read the endpoints Studio draws from."""

from __future__ import annotations

import hashlib
import json
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
from agentops.store import Stores
from agentops.store import queries as q
from agentops.store.state_tables import retrain_jobs
from agentops.store.tables import model_registry
from tests.conftest import NOW, make_stores

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
GRAPH = "incident"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TOKENS = {"alice": "alice-secret-token", "bob": "bob-secret-token", "mallory": "mallory-token"}
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


def server_config(folder: Path) -> Path:
    """The project's langgraph.json with absolute paths, in `folder`: the server runs there,
    so its in-memory store (`.langgraph_api/`: threads, crons) is this test's own."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    text = json.dumps(config).replace('"./', f'"{ROOT}/').replace('"."', f'"{ROOT}"')
    path = folder / "langgraph.json"
    path.write_text(text, encoding="utf-8")
    return path


def start_server(home: Path, port: int, *flags: str, **extra_env: str) -> Iterator[dict[str, Any]]:
    """`langgraph dev` on the project's langgraph.json with AGENTOPS_HOME=`home`, more
    `flags` for `langgraph dev` and more environment."""
    config = server_config(home)
    env = {
        **os.environ,
        "AGENTOPS_HOME": str(home),
        "AGENTOPS_APPROVERS": "",
        "AGENTOPS_EMBEDDINGS": "lexical",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGSMITH_TRACING": "false",
        **extra_env,
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
            "--config",
            str(config),
            *flags,
        ],
        cwd=home,
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("server-home")
    (home / "config.yaml").write_text(POLICY, encoding="utf-8")
    yield from start_server(home, free_port())


def as_person(server: dict[str, Any], name: str) -> SyncLangGraphClient:
    return get_sync_client(url=server["url"], headers={"Authorization": f"Bearer {TOKENS[name]}"})


@pytest.fixture
def client(server) -> Iterator[SyncLangGraphClient]:
    with as_person(server, "alice") as sdk:
        yield sdk


def seed(server, scenario: str) -> Stores:
    stores = make_stores(Settings.load(home=server["home"]))
    seed_store(stores, NOW, scenario, hours=48)
    return stores


def run_to_interrupt(client: SyncLangGraphClient) -> tuple[str, dict[str, Any]]:
    thread = client.threads.create()
    client.runs.wait(
        thread["thread_id"],
        GRAPH,
        input={"model_name": "classifier_v2", "now": "2026-11-20T12:00:00Z"},
    )
    state = client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["request_approval"], state
    [payload] = [i["value"] for task in state["tasks"] for i in task.get("interrupts", [])]
    return thread["thread_id"], payload


def active_version(stores: Stores) -> list[str]:
    with stores.monitoring.connect() as conn:
        return list(
            conn.execute(
                sa.select(model_registry.c.model_version).where(model_registry.c.active)
            ).scalars()
        )


def ledger(stores: Stores, incident_id: str) -> dict[str, tuple[str, str | None, str | None]]:
    with stores.state.connect() as conn:
        return {
            a["action_type"]: (a["status"], a["approved_by"], a.get("approved_via"))
            for a in q.action_log_for(conn, incident_id)
        }


def test_no_token_and_a_wrong_token_are_refused(server) -> None:
    bare = httpx.post(f"{server['url']}/threads/search", json={})
    assert bare.status_code == 401
    assert "bearer token" in bare.json()["detail"]
    studio_trick = httpx.post(
        f"{server['url']}/threads/search", json={}, headers={"x-auth-scheme": "langsmith"}
    )
    assert studio_trick.status_code == 401, "the langgraph dev Studio bypass is closed"
    wrong = httpx.post(
        f"{server['url']}/threads/search", json={}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401


def test_approve_through_the_server_as_the_authenticated_person(server, client) -> None:
    stores = seed(server, "upstream_data_change")
    thread_id, payload = run_to_interrupt(client)
    assert payload["kind"] == "approval_request"
    assert payload["action"]["type"] == "retrain_model"
    assert payload["action"]["target"] == "classifier_v2"
    assert "V14" in payload["why"] and payload["risk"] and payload["approvers"] == ["alice", "bob"]
    # Agent Inbox's HumanInterrupt shape rides along
    assert payload["action_request"]["action"] == "retrain_model"
    assert payload["config"]["allow_edit"] is False and payload["description"]
    # the facts an approver weighs: the training window, its rows and label maturity
    facts = " ".join(payload["facts"]["lines"])
    assert "Training window" in facts and "Label maturity" in facts
    state = client.threads.get_state(thread_id)
    assert state["values"]["incident"]["severity"] == "P1"
    # the typed approver name is ignored: the identity is the token's
    result = client.runs.wait(
        thread_id,
        GRAPH,
        command={"resume": {"decision": "approve", "approver": "mallory", "comment": "go"}},
    )
    assert result["waiting_for"] == "recovery"
    incident_id = result["incident"]["incident_id"]
    # an upstream change: the approved retrain is handed to its job, which waits for the fix
    assert ledger(stores, incident_id)["retrain_model"] == ("queued", "alice", "server")
    with stores.state.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(retrain_jobs)).scalar() == 1
        row = q.get_incident_row(conn, incident_id)
    assert row is not None and row["status"] == "monitoring"
    decided = [t.note for t in q.incident_timeline(row) if t.phase == "approval_decided"]
    assert decided == ["approve by alice (server): go"]


def test_a_refused_answer_is_asked_again_and_another_approver_rejects(server) -> None:
    """The security review's sequence on the server: mallory (not an approver) answers
    first and is refused; bob rejects. Nothing runs, and nothing is recorded as mallory's."""
    stores = seed(server, "bad_deployment")
    with as_person(server, "mallory") as mallory, as_person(server, "bob") as bob:
        thread_id, _ = run_to_interrupt(mallory)
        mallory.runs.wait(thread_id, GRAPH, command={"resume": {"decision": "approve"}})
        state = mallory.threads.get_state(thread_id)
        assert state["next"] == ["request_approval"], "asked again"
        assert active_version(stores) == ["2.4.0"]
        result = bob.runs.wait(
            thread_id, GRAPH, command={"resume": {"decision": "reject", "comment": "peak hour"}}
        )
    incident_id = result["incident"]["incident_id"]
    assert ledger(stores, incident_id)["rollback_model"][:2] == ("rejected", "bob")
    assert active_version(stores) == ["2.4.0"]
    with stores.state.connect() as conn:
        row = q.get_incident_row(conn, incident_id)
    assert row is not None and row["status"] == "escalated"
    refused = [t.note for t in q.incident_timeline(row) if t.phase == "answer_refused"]
    assert refused and "mallory (server) may not approve" in refused[0]


def test_an_agent_inbox_accept_is_an_approval_by_the_authenticated_person(server) -> None:
    stores = seed(server, "bad_deployment")
    with as_person(server, "bob") as bob:
        thread_id, _ = run_to_interrupt(bob)
        result = bob.runs.wait(
            thread_id, GRAPH, command={"resume": [{"type": "accept", "args": None}]}
        )
    incident_id = result["incident"]["incident_id"]
    assert ledger(stores, incident_id)["rollback_model"][:2] == ("succeeded", "bob")
    assert active_version(stores) == ["2.3.0"]


def test_a_studio_edit_is_attributed_and_cannot_unlock_what_the_evidence_refuses(server) -> None:
    """mallory, who may not approve, edits the diagnosis in Studio (data problem -> bad
    release) hoping the plan turns into a rollback; the edit is recorded under her
    authenticated name, refused by the evidence, and the plan stays the retrain."""
    stores = seed(server, "upstream_data_change")
    serving = active_version(stores)
    with as_person(server, "alice") as alice, as_person(server, "mallory") as mallory:
        thread_id, _ = run_to_interrupt(alice)
        diagnosis = alice.threads.get_state(thread_id)["values"]["diagnosis"]
        forged = {**diagnosis, "category": "bad_deployment", "root_cause": "release 2.4.0"}
        mallory.threads.update_state(thread_id, {"diagnosis": forged}, as_node="investigate")
        alice.runs.wait(thread_id, GRAPH, input=None)  # Studio's "continue"
        state = alice.threads.get_state(thread_id)
        [payload] = [i["value"] for task in state["tasks"] for i in task.get("interrupts", [])]
        assert payload["action"]["type"] == "retrain_model", "the plan stayed the evidence's"
        assert state["values"]["diagnosis"]["category"] == "upstream_data_change"
        result = alice.runs.wait(thread_id, GRAPH, command={"resume": {"decision": "approve"}})
    incident_id = result["incident"]["incident_id"]
    assert "rollback_model" not in ledger(stores, incident_id)
    assert active_version(stores) == serving
    with stores.state.connect() as conn:
        row = q.get_incident_row(conn, incident_id)
    assert row is not None
    [note] = [t.note for t in q.incident_timeline(row) if t.phase == "diagnosis_edited"]
    assert note.startswith("diagnosis edited by mallory:") and "refused" in note


def test_studio_endpoints(client) -> None:
    [assistant] = client.assistants.search(graph_id=GRAPH)
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert set(schemas["input_schema"]["properties"]) == {"model_name", "now", "incident_id"}
    assert {"incident", "actions_taken", "postmortem_path"} <= set(
        schemas["output_schema"]["properties"]
    )
    assert {"model", "approvers"} <= set(schemas["context_schema"]["properties"])
    drawn = client.assistants.get_graph(assistant["assistant_id"])
    assert {n["id"] for n in drawn["nodes"]} >= {
        "detect",
        "page",
        "triage",
        "investigate",
        "remediate",
        "execute_action",
        "request_approval",
        "verify",
        "await_recovery",
        "postmortem",
    }


def test_studio_sees_progress_from_inside_long_steps(server, client) -> None:
    seed(server, "bad_deployment")
    thread = client.threads.create()["thread_id"]
    events = list(
        client.runs.stream(
            thread,
            GRAPH,
            input={"model_name": "classifier_v2", "now": "2026-11-20T12:00:00Z"},
            stream_mode="custom",
        )
    )
    steps = [e.data["progress"] for e in events if e.event == "custom"]
    assert steps[:4] == [
        "triage: gathering evidence",
        "triage: diagnosing",
        "investigate: testing hypotheses",
        "remediate: planning",
    ]


def test_bad_input_gets_its_reason_not_an_internal_error(server, client) -> None:
    thread = client.threads.create()["thread_id"]
    with pytest.raises(httpx.HTTPStatusError) as misspelt:
        client.runs.wait(thread, GRAPH, input={"modelname": "classifier_v2"})
    assert misspelt.value.response.status_code == 422
    assert "unknown key(s) ['modelname']" in misspelt.value.response.text
    thread = client.threads.create()["thread_id"]
    with pytest.raises(httpx.HTTPStatusError) as refused:
        client.runs.wait(thread, GRAPH, input={"now": "yesterday"})
    assert refused.value.response.status_code == 422
    assert "'yesterday' is not an ISO-8601 time" in refused.value.response.text
    # checked when the run starts: the error's own text reaches the caller
    seed(server, "upstream_data_change")
    thread = client.threads.create()["thread_id"]
    with pytest.raises(Exception, match=r"unknown model 'no_such_model' in MODEL_METRICS"):
        client.runs.wait(
            thread, GRAPH, input={"model_name": "no_such_model", "now": "2026-11-20T12:00:00Z"}
        )


def test_the_server_offers_no_auto_approval(client) -> None:
    [assistant] = client.assistants.search(graph_id=GRAPH)
    context = client.assistants.get_schemas(assistant["assistant_id"])["context_schema"]
    assert "auto_approve" not in context["properties"]
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert schemas["input_schema"]["properties"]["now"]["format"] == "date-time"
