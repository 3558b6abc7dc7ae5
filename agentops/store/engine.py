"""One engine factory for every store: SQLite by default, Snowflake (or any SQLAlchemy URL)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from agentops.errors import ConfigError, DataError, StoreError
from agentops.store.tables import CONTRACT_TABLES, INDEXES, metadata


def create_store_engine(url: str) -> sa.Engine:
    """An engine for `url`. SQLite files get their folder created and WAL mode, so the CLI
    and a LangGraph server can share one file."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(
            f"AGENTOPS_DATABASE_URL: cannot parse {url!r} as a database URL"
        ) from None
    backend = parsed.get_backend_name()
    connect_args: dict[str, object] = {}
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot reach the store at {url}: cannot create {folder}: {exc.strerror}"
                ) from None
        connect_args["timeout"] = 30
    if backend == "snowflake":
        import snowflake.sqlalchemy  # noqa: F401  - registers the dialect and its types
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"AGENTOPS_DATABASE_URL: no driver for {backend!r} ({exc})") from None
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # pysqlite opens transactions late and lets a SAVEPOINT's RELEASE commit on its own, so
    # the ledger's claim survived a rolled-back transaction. SQLAlchemy's recipe: no
    # implicit transactions from the driver, an explicit BEGIN from ours.
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def describe(engine: sa.Engine) -> str:
    """The URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


def check_reachable(engine: sa.Engine) -> None:
    """Connect once; StoreError naming the database if that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise StoreError(f"cannot reach the store at {describe(engine)}: {reason}") from None


def init_schema(engine: sa.Engine) -> list[str]:
    """Create every table and index that is missing; return the tables created."""
    check_reachable(engine)
    existing = {name.lower() for name in sa.inspect(engine).get_table_names()}
    with engine.begin() as conn:
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
            f"table {listed} missing from the store at {describe(engine)}; "
            "run `agentops db init` (or point AGENTOPS_DATABASE_URL at the monitoring schema)"
        )
