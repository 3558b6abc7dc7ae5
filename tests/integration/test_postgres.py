"""Several workers over one PostgreSQL state store, as in production: real `agentops watch`
processes share a fleet of breaching models, a worker killed mid-incident is taken over,
and an approval is answered from another process. Each test gets a fresh database on the
machine's PostgreSQL (AGENTOPS_TEST_POSTGRES_URL; CI fails, never skips, without it).

The figures of each run are printed (`pytest -s` shows them)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentops.store import create_store_engine
from agentops.store.state_tables import action_log
from tests.integration.fleet import (
    SETTLED,
    agentops,
    assert_clean,
    exactly_once,
    incident_rows,
    monitoring_db,
    spawn,
    worker_env,
)
from tests.integration.postgres import fresh_database

pytestmark = pytest.mark.integration

MODELS = 30
LEASE_S = "3"


@pytest.fixture
def state_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
def state(state_url: str) -> Iterator[sa.Engine]:
    engine = create_store_engine(state_url, role="state")
    yield engine
    engine.dispose()


def _finish(worker: subprocess.Popen[str], log: Path, timeout: float = 240) -> str:
    try:
        code = worker.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        raise AssertionError(
            f"worker still running after {timeout} s:\n{log.read_text()}"
        ) from None
    out = log.read_text()
    assert code == 0, out
    assert_clean(out)
    return out


def _wait_until(what: str, check: Any, timeout: float = 120, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_watch_workers_handle_thirty_incidents_exactly_once(
    tmp_path: Path, state_url: str, state: sa.Engine
) -> None:
    monitoring = monitoring_db(tmp_path / "monitoring.db", MODELS)
    homes = [tmp_path / f"worker{n}" for n in range(3)]
    passes = 4
    started = time.monotonic()
    workers = [
        spawn(
            worker_env(home, monitoring, state_url, AGENTOPS_LEASE_SECONDS=LEASE_S),
            "watch",
            "--interval",
            "1",
            "--passes",
            str(passes),
            log=home.with_suffix(".log"),
        )
        for home in homes
    ]
    outputs = [_finish(w, h.with_suffix(".log")) for w, h in zip(workers, homes, strict=True)]
    elapsed = time.monotonic() - started

    figures = exactly_once(state, homes, MODELS)
    # who handled what: each worker prints `detect INC-...` for the incidents it ran
    handled = [out.count("\ndetect      INC-") for out in outputs]
    assert sum(handled) == MODELS, handled
    assert sum(1 for n in handled if n) >= 2, f"the work was shared: {handled}"
    with state.connect() as conn:
        beats = conn.execute(sa.text("SELECT count(*) FROM agentops_workers")).scalar()
    assert beats == 3, "each worker recorded its heartbeat"
    print(
        f"\nthree workers: {figures['incidents']} incidents, {passes} passes each, "
        f"handled per worker {handled}, {figures['messages']} messages, "
        f"{figures['ledger_rows']} ledger rows, duplicates {figures['duplicates']}, "
        f"statuses {figures['statuses']}, {elapsed:.1f} s"
    )


class _SilentModel:
    """An OpenAI-compatible endpoint that never answers: a worker diagnosing through it is
    stuck inside `triage`, mid-incident, holding its lease, until it is killed."""

    def __init__(self) -> None:
        release = self.release = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                release.wait(600)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> _SilentModel:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_worker_killed_mid_incident_is_taken_over(
    tmp_path: Path, state_url: str, state: sa.Engine
) -> None:
    models = 6
    monitoring = monitoring_db(tmp_path / "monitoring.db", models)
    homes = [tmp_path / f"worker{n}" for n in range(3)]
    with _SilentModel() as silent:
        victim_env = worker_env(
            homes[0],
            monitoring,
            state_url,
            AGENTOPS_LEASE_SECONDS=LEASE_S,
            AGENTOPS_MODEL="openai:gpt-4o-mini",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=silent.base_url,
            AGENTOPS_LLM_TIMEOUT="600",
            AGENTOPS_DIAGNOSIS_BUDGET="600",
        )
        victim = spawn(victim_env, "watch", "--interval", "1", log=homes[0].with_suffix(".log"))
        try:
            held = _wait_until(
                "the first worker to lease an incident",
                lambda: [r for r in incident_rows(state) if r["lease_owner"]],
            )
            [stuck] = held
            assert stuck["lease_owner"].split(":")[2] == str(victim.pid)
            others = [
                spawn(
                    worker_env(home, monitoring, state_url, AGENTOPS_LEASE_SECONDS=LEASE_S),
                    "watch",
                    "--interval",
                    "1",
                    "--passes",
                    "12",
                    log=home.with_suffix(".log"),
                )
                for home in homes[1:]
            ]
            _wait_until(
                "the other workers to settle every other incident",
                lambda: (
                    all(
                        r["status"] in SETTLED and r["waiting_for"]
                        for r in incident_rows(state)
                        if r["incident_id"] != stuck["incident_id"]
                    )
                    and len(incident_rows(state)) == models
                ),
            )
            [mid] = [r for r in incident_rows(state) if r["incident_id"] == stuck["incident_id"]]
            assert mid["waiting_for"] is None and mid["lease_owner"] == stuck["lease_owner"], (
                "still mid-incident when killed"
            )
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed_at = time.monotonic()
            taken = _wait_until(
                "another worker to take the incident over",
                lambda: [
                    r
                    for r in incident_rows(state)
                    if r["incident_id"] == stuck["incident_id"]
                    and r["status"] in SETTLED
                    and r["waiting_for"]
                ],
                timeout=60,
            )
            takeover_s = time.monotonic() - killed_at
            for worker, home in zip(others, homes[1:], strict=True):
                _finish(worker, home.with_suffix(".log"))
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.wait()
    [after] = [r for r in incident_rows(state) if r["incident_id"] == stuck["incident_id"]]
    assert after["lease_owner"] is None, "the worker that took it over gave the lease back"
    assert taken[0]["lease_owner"] != stuck["lease_owner"]
    figures = exactly_once(state, homes, models)
    # not before the dead worker's lease ran out (renewed every third of it), soon after
    assert float(LEASE_S) * 2 / 3 - 0.5 <= takeover_s < float(LEASE_S) + 15, takeover_s
    print(
        f"\nkilled worker: {stuck['incident_id']} taken over {takeover_s:.1f} s after SIGKILL "
        f"(lease {LEASE_S} s); {figures['incidents']} incidents, duplicates "
        f"{figures['duplicates']}, statuses {figures['statuses']}"
    )


def test_an_approval_from_another_process_finishes_it(
    tmp_path: Path, state_url: str, state: sa.Engine
) -> None:
    monitoring = monitoring_db(tmp_path / "monitoring.db", 2)
    worker = tmp_path / "worker"
    env = worker_env(worker, monitoring, state_url)
    ran = agentops(env, "run")
    assert ran.returncode == 0, ran.stdout + ran.stderr

    operator = tmp_path / "operator"  # another host: its own home, the same two databases
    op_env = worker_env(operator, monitoring, state_url)
    listed = agentops(op_env, "threads", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    waiting = json.loads(listed.stdout)
    assert {w["waiting_for"] for w in waiting} == {"approval"} and len(waiting) == 2
    target = waiting[0]
    assert target["pending"]["action"]["type"] == "retrain_model"

    approved = agentops(op_env, "approve", target["incident_id"], "--approver", "alice")
    assert approved.returncode == 0, approved.stdout + approved.stderr

    after = {w["incident_id"]: w for w in json.loads(agentops(op_env, "threads", "--json").stdout)}
    assert after[target["incident_id"]]["waiting_for"] == "recovery"
    assert after[waiting[1]["incident_id"]]["waiting_for"] == "approval", "the other still waits"
    with state.connect() as conn:
        retrain = (
            conn.execute(
                sa.select(action_log).where(
                    action_log.c.incident_id == target["incident_id"],
                    action_log.c.action_type == "retrain_model",
                )
            )
            .mappings()
            .one()
        )
    assert retrain["status"] == "succeeded"
    assert (retrain["approved_by"], retrain["approved_via"]) == ("alice", "cli")

    # the first host's next pass sees the decision (no second retrain, no approval asked)
    again = agentops(env, "run", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    with state.connect() as conn:
        retrains = conn.execute(
            sa.select(sa.func.count())
            .select_from(action_log)
            .where(action_log.c.action_type == "retrain_model")
        ).scalar()
    assert retrains == 1


def test_a_state_store_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monitoring = monitoring_db(tmp_path / "monitoring.db", 1)
    url = f"postgresql://agentops:secret-pw@127.0.0.1:{port}/agentops"
    for command in (["run"], ["watch", "--passes", "1"], ["threads"]):
        done = agentops(worker_env(tmp_path / "home", monitoring, url), *command)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.startswith("error: cannot reach the store at postgresql")
        assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
        assert "secret-pw" not in done.stderr, "the password is never shown"
