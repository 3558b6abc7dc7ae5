"""The state store's versioned migrations, on SQLite and on the machine's PostgreSQL: a fresh
store is created at the newest version, an older one refuses to run until `agentops db
upgrade`, which keeps every row; what the steps build is what the code reads; several
processes starting on an empty store at once create it once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.errors import StoreError
from agentops.settings import Settings
from agentops.store import create_store_engine, open_monitoring, open_state
from agentops.store import incidents as store_incidents
from agentops.store import queries as q
from agentops.store.checkpoints import checkpointer_for
from agentops.store.migrations import HEAD, MIGRATIONS, current_version, upgrade
from agentops.store.state_tables import schema_version, state_metadata
from tests.integration.postgres import fresh_database

ROOT = Path(__file__).parents[3]
OPENED = datetime(2026, 11, 20, 9, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    with fresh_database() as url:
        yield url


def _engine(url: str) -> sa.Engine:
    return create_store_engine(url, role="state")


def _columns(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {
        name: {c["name"].lower() for c in inspector.get_columns(name)}
        for name in inspector.get_table_names()
        if name.startswith("agentops_")
    }


def _version_one_rows(engine: sa.Engine) -> None:
    """What a first-wave store holds: an incident with its thread, a ledger row, an outbox
    message, a retraining job (written with plain SQL: version 1's columns only)."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO agentops_incidents (incident_id, model_name, severity, alert_types,"
                " opened_at, status, fingerprints, alerts, thread_id, timeline) VALUES"
                " ('INC-2026-1120-1', 'classifier_v2', 'P1', 'model_performance', :at,"
                " 'awaiting_approval', '[]', '[]', 'thread-1', '[]')"
            ),
            {"at": OPENED},
        )
        conn.execute(
            sa.text(
                "INSERT INTO agentops_action_log (idempotency_key, incident_id, action_type,"
                " target, status, approved_by, created_at) VALUES ('INC-2026-1120-1|"
                "rollback_model|classifier_v2', 'INC-2026-1120-1', 'rollback_model',"
                " 'classifier_v2', 'succeeded', 'alice', :at)"
            ),
            {"at": OPENED},
        )
        conn.execute(
            sa.text(
                "INSERT INTO agentops_messages (message_id, incident_id, channel, target, text,"
                " status, attempts, created_at) VALUES ('m-1', 'INC-2026-1120-1', 'slack',"
                " '#ml-alerts', 'page', 'sent', 1, :at)"
            ),
            {"at": OPENED},
        )
        conn.execute(
            sa.text(
                "INSERT INTO agentops_retrain_jobs (job_id, incident_id, model_name,"
                " train_start, train_end, status, created_at) VALUES ('job-1',"
                " 'INC-2026-1120-1', 'classifier_v2', :at, :at, 'queued', :at)"
            ),
            {"at": OPENED},
        )


def _agentops(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AGENTOPS_HOME": str(tmp_path / "home"),
        "AGENTOPS_STATE_URL": url,
        "AGENTOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'monitoring.db'}",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "agentops", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_an_empty_store_is_created_at_the_newest_version(state_url: str) -> None:
    engine = open_state(state_url)
    try:
        with engine.connect() as conn:
            assert current_version(conn) == HEAD
            applied = conn.execute(sa.select(schema_version.c.version)).scalars().all()
        assert sorted(applied) == [m.version for m in MIGRATIONS]
        assert upgrade(engine) == [], "nothing left to apply"
    finally:
        engine.dispose()


def test_the_steps_build_exactly_the_tables_the_code_reads(state_url: str) -> None:
    """Migrations write their own DDL; this catches a column added to `state_tables` but
    never to a step (or the other way round)."""
    engine = open_state(state_url)
    try:
        built = _columns(engine)
    finally:
        engine.dispose()
    expected = {t.name: {c.name for c in t.columns} for t in state_metadata.sorted_tables}
    assert built == expected


def test_a_version_one_store_refuses_until_upgraded_and_keeps_its_rows(
    state_url: str, tmp_path: Path
) -> None:
    engine = _engine(state_url)
    try:
        assert [m.version for m in upgrade(engine, target=1)] == [1]
        _version_one_rows(engine)

        with pytest.raises(StoreError, match=r"schema version 1.*run `agentops db upgrade`"):
            open_state(state_url)
        open_monitoring(f"sqlite:///{tmp_path / 'monitoring.db'}", create=True).dispose()
        refused = _agentops(state_url, tmp_path, "threads")
        assert refused.returncode == 1
        assert "run `agentops db upgrade`" in refused.stderr, refused.stdout + refused.stderr
        assert "Traceback" not in refused.stderr

        done = _agentops(state_url, tmp_path, "db", "upgrade", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["applied"] == list(range(2, HEAD + 1))

        upgraded = open_state(state_url)  # no longer refuses
        upgraded.dispose()
        with engine.connect() as conn:
            row = q.get_incident_row(conn, "INC-2026-1120-1")
            counts = {
                table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
                for table in (
                    "agentops_action_log",
                    "agentops_messages",
                    "agentops_retrain_jobs",
                )
            }
            approved_by = conn.execute(
                sa.text("SELECT approved_by FROM agentops_action_log")
            ).scalar()
        assert row is not None and row["status"] == "awaiting_approval"
        assert row["thread_id"] == "thread-1" and row["lease_owner"] is None
        assert counts == dict.fromkeys(counts, 1)
        assert approved_by == "alice"
        # an old incident takes part in the new lifecycle: a worker can lease it
        with engine.begin() as conn:
            wall = datetime(2026, 11, 20, 10, 0)
            assert store_incidents.claim_incident(
                conn,
                "INC-2026-1120-1",
                "thread-1",
                owner="w1",
                until=datetime(2026, 11, 20, 10, 1),
                wall=wall,
            )
        second = _agentops(state_url, tmp_path, "db", "upgrade")
        assert second.returncode == 0 and "up to date" in second.stdout
    finally:
        engine.dispose()


def test_a_store_newer_than_this_agentops_refuses(state_url: str) -> None:
    engine = open_state(state_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                schema_version.insert().values(
                    version=HEAD + 1, description="from the future", applied_at=OPENED
                )
            )
        with pytest.raises(StoreError, match=r"newer than this agentops knows.*upgrade agentops"):
            open_state(state_url)
    finally:
        engine.dispose()


def test_workers_starting_together_on_an_empty_store_create_it_once(
    state_url: str, tmp_path: Path
) -> None:
    """Four processes' worth of first use at once: the store and the graph's checkpoint
    tables are created once, and nobody fails (PostgresSaver.setup() alone collides)."""
    errors: list[BaseException] = []
    settings = Settings.load(home=tmp_path / "home", state_url=state_url)
    start = threading.Barrier(4)

    def first_use() -> None:
        try:
            start.wait()
            open_state(state_url).dispose()
            with checkpointer_for(settings) as saver:
                saver.get_tuple({"configurable": {"thread_id": "none"}})
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=first_use) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    engine = _engine(state_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(sa.select(schema_version.c.version)).scalars().all()
    finally:
        engine.dispose()
    assert sorted(versions) == [m.version for m in MIGRATIONS]
