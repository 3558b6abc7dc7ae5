"""Several processes over one SQLite state store (the default, no server): eight `agentops
run` at once over a fleet of breaching models handle every incident once, and a run that
finds the store locked by another program waits for it instead of failing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentops.store import create_store_engine, open_state
from tests.integration.fleet import (
    agentops,
    assert_clean,
    exactly_once,
    monitoring_db,
    spawn,
    worker_env,
)

pytestmark = pytest.mark.integration

HOLD_S = 20


def test_eight_parallel_runs_over_one_sqlite_store_handle_every_incident_once(
    tmp_path: Path,
) -> None:
    models = 40
    monitoring = monitoring_db(tmp_path / "monitoring.db", models)
    home = tmp_path / "home"  # eight cron jobs on one host: one home, one state file
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    logs = [tmp_path / f"run{n}.log" for n in range(8)]
    started = time.monotonic()
    runs = [spawn(worker_env(home, monitoring, state_url), "run", log=log) for log in logs]
    codes = [run.wait(timeout=600) for run in runs]
    elapsed = time.monotonic() - started
    outputs = [log.read_text() for log in logs]
    assert codes == [0] * 8, outputs
    for out in outputs:
        assert_clean(out)
    handled = [out.count("detect      INC-") for out in outputs]
    assert sum(handled) == models, handled

    state = create_store_engine(state_url, role="state")
    try:
        figures = exactly_once(state, [home], models)
    finally:
        state.dispose()
    print(
        f"\neight runs on SQLite: {figures['incidents']} incidents, handled per process "
        f"{handled}, duplicates {figures['duplicates']}, {elapsed:.1f} s"
    )


_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_a_run_waits_for_a_store_another_program_holds(tmp_path: Path) -> None:
    monitoring = monitoring_db(tmp_path / "monitoring.db", 2)
    state_file = tmp_path / "state.db"
    state_url = f"sqlite:///{state_file}"
    open_state(state_url).dispose()  # the store exists, as on a host that ran before
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(state_file), str(HOLD_S)],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        held_at = time.monotonic()
        ran = agentops(worker_env(tmp_path / "home", monitoring, state_url), "run", "--json")
        waited = time.monotonic() - held_at
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert_clean(ran.stderr)
    assert json.loads(ran.stdout)["errors"] == []
    assert waited >= HOLD_S - 1, f"it went on while the store was locked ({waited:.1f} s)"
    state = create_store_engine(state_url, role="state")
    try:
        figures = exactly_once(state, [tmp_path / "home"], 2)
    finally:
        state.dispose()
    assert figures["statuses"] == {"awaiting_approval": 2}


def test_a_worker_whose_clock_lags_joins_the_incident_another_opened(tmp_path: Path) -> None:
    """Hosts' clocks differ by seconds, and a pass reads its clock before it waits for the
    detection lock: a worker whose clock is behind must still find the incident a faster
    one opened, not open a second one for the same breach."""
    monitoring = monitoring_db(tmp_path / "monitoring.db", 1)
    env = worker_env(tmp_path / "home", monitoring, f"sqlite:///{tmp_path / 'state.db'}")
    ahead = datetime.now(UTC).replace(microsecond=0)
    for clock in (ahead, ahead - timedelta(seconds=5)):
        ran = agentops(env, "run", "--now", clock.isoformat().replace("+00:00", "Z"))
        assert ran.returncode == 0, ran.stdout + ran.stderr
    listed = json.loads(agentops(env, "incidents", "list", "--json").stdout)
    assert [i["model_name"] for i in listed] == ["fraud_00"], listed
