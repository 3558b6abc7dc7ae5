"""The graph's checkpoints in the state store (AGENTOPS_STATE_URL): the same SQLite file by
default, PostgreSQL in production — so a thread interrupted in one process (or on one host)
is resumed by another. Like every connection to the outside, it lives in `store/`."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from agentops.errors import ConfigError, StoreError
from agentops.settings import Settings
from agentops.store.engine import (
    CONNECT_TIMEOUT_S,
    LOCK_TIMEOUT_S,
    db_error_text,
    describe_url,
    is_postgres,
    libpq_url,
    sqlite_file,
    use_wal,
)
from agentops.store.locks import lock_key


@contextmanager
def checkpointer_for(settings: Settings) -> Iterator[BaseCheckpointSaver[Any]]:
    """The state store's checkpointer: SqliteSaver in its SQLite file, PostgresSaver on
    PostgreSQL over a small connection pool that replaces a connection the server dropped
    (a `watch` outlives database restarts). PostgreSQL's tables are created once, under an
    advisory lock: concurrent `setup()` calls from workers starting together collide."""
    url = settings.resolved_state_url
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=LOCK_TIMEOUT_S)
        try:
            use_wal(conn)  # before SqliteSaver's own switch, which fails on a busy new file
            yield SqliteSaver(conn)
        finally:
            conn.close()
        return
    if not is_postgres(url):
        raise ConfigError(
            f"AGENTOPS_STATE_URL: no checkpointer for {describe_url(url)} (use sqlite:/// or "
            "postgresql://)"
        )
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    conninfo = libpq_url(url)
    where = describe_url(url)
    try:
        pg = psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot reach the state store at {where}: {db_error_text(exc)}") from None
    with pg:
        key = lock_key("checkpoint-setup")
        # polled, not a blocking pg_advisory_lock: setup's CREATE INDEX CONCURRENTLY waits
        # for every open statement, a blocked lock call included (a deadlock)
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while not (pg.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() or [0])[0]:
            if time.monotonic() > deadline:
                raise StoreError(
                    f"the state store at {where}: another process has been creating the "
                    f"checkpoint tables for over {LOCK_TIMEOUT_S} s"
                )
            time.sleep(0.2)
        try:
            PostgresSaver(pg).setup()  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise StoreError(
                f"the state store at {where}: cannot create the checkpoint tables: "
                f"{db_error_text(exc)}"
            ) from None
        finally:
            pg.execute("SELECT pg_advisory_unlock(%s)", (key,))
    # PostgresSaver needs autocommit; prepare_threshold=0 keeps it working behind PgBouncer
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=2,
        open=False,
        check=ConnectionPool.check_connection,
        name="agentops-checkpoints",
        timeout=LOCK_TIMEOUT_S,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    pool.open()
    try:
        yield PostgresSaver(pool)
    finally:
        pool.close()
