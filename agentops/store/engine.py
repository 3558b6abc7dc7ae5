"""Engines for the two databases agentops talks to.

- The monitoring database (AGENTOPS_DATABASE_URL: SQLite by default, Snowflake by URL) holds
  the contract's tables. agentops reads it; only `db init`, `seed` and `db load-case` create
  tables there, so a mistyped URL is an error naming it, never an empty schema read as "all
  clear" (`open_monitoring`).
- The state store (AGENTOPS_STATE_URL: SQLite under AGENTOPS_HOME by default, PostgreSQL in
  production) holds what agentops owns; it is created and migrated on first use
  (`open_state`).

On SQLite every state-store transaction begins as the writer (`BEGIN IMMEDIATE`): a
transaction that reads and then writes can never fail halfway with "database is locked",
because it waits for the lock (busy timeout) before it reads anything. Monitoring reads keep
a plain `BEGIN`; loads ask for the writer lock with `writing(engine)`.

On PostgreSQL (psycopg 3) rows lock themselves: claims are conditional UPDATEs, which
PostgreSQL re-checks after a concurrent writer commits, and the few read-then-write steps
take an advisory lock (`store.locks`). A connection waits at most LOCK_TIMEOUT_S for a lock,
as SQLite's busy timeout does, and a server that is down is an error within
CONNECT_TIMEOUT_S.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from agentops.errors import ConfigError, DataError, StoreError
from agentops.store.tables import CONTRACT_TABLES, INDEXES, metadata

Role = Literal["monitoring", "state"]
LOCK_TIMEOUT_S = 30
CONNECT_TIMEOUT_S = 10
_VARIABLE = {"monitoring": "AGENTOPS_DATABASE_URL", "state": "AGENTOPS_STATE_URL"}
_WRITE_OPTION = "agentops_write"


def _parse(url: str, role: Role) -> URL:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"{_VARIABLE[role]}: cannot parse {url!r} as a database URL") from None
    if parsed.drivername in {"postgresql", "postgres"}:
        # psycopg 3 is the driver we ship; SQLAlchemy's default for the bare scheme is psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL, None for other backends and in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in {None, "", ":memory:"}:
        return None
    return Path(str(parsed.database))


def create_store_engine(url: str, *, role: Role = "monitoring") -> sa.Engine:
    """An engine for `url`. SQLite files get their folder created, WAL mode and a busy
    timeout, so the CLI, `watch` workers and a LangGraph server can share one file."""
    parsed = _parse(url, role)
    backend = parsed.get_backend_name()
    connect_args: dict[str, object] = {}
    options: dict[str, object] = {}
    if backend == "sqlite":
        path = sqlite_file(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot reach the store at {url}: cannot create {path.parent}: {exc.strerror}"
                ) from None
        connect_args["timeout"] = LOCK_TIMEOUT_S
    elif backend == "postgresql":
        options["pool_pre_ping"] = True  # a server restart costs a reconnect, not a failed pass
        connect_args.update(_postgres_args(parsed, role))
    if backend == "snowflake":
        import snowflake.sqlalchemy  # noqa: F401  - registers the dialect and its types
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args, **options)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"{_VARIABLE[role]}: no driver for {backend!r} ({exc})") from None
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin_writer if role == "state" else _sqlite_begin)
    return engine


def _postgres_args(parsed: URL, role: Role) -> dict[str, object]:
    """libpq settings, unless the URL sets them: a down server is a one-line error within
    CONNECT_TIMEOUT_S, and a lock wait gives up after LOCK_TIMEOUT_S as SQLite's busy
    timeout does, so a stuck worker can never hang every other one."""
    wanted: dict[str, object] = {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": f"agentops-{role}",
        "options": f"-c lock_timeout={LOCK_TIMEOUT_S * 1000}",
    }
    return {key: value for key, value in wanted.items() if key not in parsed.query}


def use_wal(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode (readers never wait for the writer). The mode is kept in
    the file, so this only switches a new one; switching needs the file to itself, and SQLite
    says "locked" at once instead of waiting, so the first users of a new file retry here."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_S * 1000}")
    use_wal(dbapi_connection)
    # pysqlite opens transactions late and lets a SAVEPOINT's RELEASE commit on its own, so
    # the ledger's claim survived a rolled-back transaction. SQLAlchemy's recipe: no
    # implicit transactions from the driver, an explicit BEGIN from ours.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: sa.Connection) -> None:
    if conn.get_execution_options().get(_WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _sqlite_begin_writer(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that holds the writer lock from its start (SQLite), like `begin()`."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


def describe_url(url: str) -> str:
    """A URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable URL>"


def is_postgres(url: str) -> bool:
    try:
        return make_url(url).get_backend_name() in {"postgresql", "postgres"}
    except sa.exc.ArgumentError:
        return False


def libpq_url(url: str) -> str:
    """A PostgreSQL URL as libpq (psycopg) takes it: `postgresql+psycopg://` and
    `postgres://` become `postgresql://`, query parameters (sslmode, ...) kept."""
    if not is_postgres(url):
        raise ConfigError(f"not a PostgreSQL URL: {describe_url(url)}")
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def describe(engine: sa.Engine) -> str:
    """The URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


def db_error_text(exc: Exception) -> str:
    """The driver's first line, without SQLAlchemy's statement dump."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def check_reachable(engine: sa.Engine) -> None:
    """Connect once; StoreError naming the database if that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(
            f"cannot reach the store at {describe(engine)}: {db_error_text(exc)}"
        ) from None


def init_schema(engine: sa.Engine) -> list[str]:
    """Create every monitoring table and index that is missing; return the tables created.
    Only `db init`, `seed` and `db load-case` call this."""
    check_reachable(engine)
    existing = {name.lower() for name in sa.inspect(engine).get_table_names()}
    with writing(engine) as conn:
        metadata.create_all(conn, checkfirst=True)
        if engine.dialect.name != "snowflake":
            for name, table, columns in INDEXES:
                conn.execute(
                    sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})")
                )
    return [t.name for t in metadata.sorted_tables if t.name not in existing]


def require_tables(engine: sa.Engine, names: list[str] | None = None) -> None:
    """DataError naming each missing table (and the fix) before a query fails obscurely."""
    check_reachable(engine)
    wanted = names if names is not None else list(CONTRACT_TABLES)
    existing = {name.lower() for name in sa.inspect(engine).get_table_names()}
    missing = [name for name in wanted if name.lower() not in existing]
    if missing:
        listed = ", ".join(name.upper() for name in missing)
        raise DataError(
            f"table {listed} missing from the monitoring database at {describe(engine)}; "
            "run `agentops db init` (or point AGENTOPS_DATABASE_URL at the monitoring schema)"
        )


def open_monitoring(url: str, *, create: bool = False) -> sa.Engine:
    """The monitoring database. Unless `create`, a SQLite file that does not exist is an
    error naming it (connecting would create an empty one) and every contract table must be
    there; with `create`, missing tables are created."""
    path = sqlite_file(url)
    if not create and path is not None and not path.is_file():
        raise DataError(
            f"no monitoring database at {path} (AGENTOPS_DATABASE_URL={url}): run "
            "`agentops db init` or `agentops seed`, or point AGENTOPS_DATABASE_URL at your "
            "monitoring tables"
        )
    engine = create_store_engine(url, role="monitoring")
    if create:
        init_schema(engine)
    else:
        require_tables(engine)
    return engine


def open_state(url: str) -> sa.Engine:
    """The state store, created at the newest schema on first use; StoreError when it is
    at an older version (naming `agentops db upgrade`) or cannot be reached."""
    from agentops.store.migrations import ensure_current

    engine = create_store_engine(url, role="state")
    try:
        check_reachable(engine)
        ensure_current(engine, describe(engine))
    except BaseException:
        engine.dispose()  # its pooled connections, closed now rather than at collection
        raise
    return engine


@dataclass(frozen=True)
class Stores:
    """The two databases: `monitoring` (contract tables) and `state` (what agentops owns).
    They may be the same database; the state's tables are prefixed `agentops_`."""

    monitoring: sa.Engine
    state: sa.Engine

    def dispose(self) -> None:
        self.monitoring.dispose()
        if self.state is not self.monitoring:
            self.state.dispose()


CHECKPOINT_TABLES = ("checkpoints", "writes", "checkpoint_blobs", "checkpoint_writes")


def reset_state(state: sa.Engine) -> None:
    """Empty everything agentops owns in the state store — incidents, ledger, outbox, jobs,
    answers, silences, post-mortems and the graph's checkpoints — keeping the schema."""
    from agentops.store.state_tables import schema_version, state_metadata

    present = {name.lower() for name in sa.inspect(state).get_table_names()}
    with state.begin() as conn:
        for table in reversed(state_metadata.sorted_tables):
            if table is not schema_version and table.name in present:
                conn.execute(table.delete())
        for name in CHECKPOINT_TABLES:
            if name in present:
                conn.exec_driver_sql(f"DELETE FROM {name}")
