"""Versioned migrations of the state store: a plain, ordered list of steps.

`agentops_schema_version` holds one row per applied step. A fresh (empty) store is brought
to the newest version on first use; a store at an older version refuses to run and says
`agentops db upgrade`, which applies the missing steps in one transaction per step. Each
step writes its own DDL rather than reading today's table definitions, so an old store
migrates the same way whatever the newest schema looks like.

Steps run under a lock (SQLite: the writer lock `BEGIN IMMEDIATE` takes; PostgreSQL: an
advisory transaction lock), so two processes starting on an empty store create it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from agentops.clock import utcnow
from agentops.errors import StoreError
from agentops.store.locks import serialize

Step = Callable[[sa.Connection], None]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Step


def _create(conn: sa.Connection, *tables: sa.Table) -> None:
    for table in tables:
        table.create(conn, checkfirst=True)


def _add_columns(conn: sa.Connection, table: str, columns: list[sa.Column[Any]]) -> None:
    present = {c["name"].lower() for c in sa.inspect(conn).get_columns(table)}
    for column in columns:
        if column.name.lower() in present:
            continue
        kind = column.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column.name} {kind}")


def _index(conn: sa.Connection, name: str, table: str, columns: tuple[str, ...]) -> None:
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})")


def _v1(conn: sa.Connection) -> None:
    """The first wave's operational tables: incidents, ledger, outbox, retraining jobs."""
    md = sa.MetaData()
    incidents = sa.Table(
        "agentops_incidents",
        md,
        sa.Column("incident_id", sa.String(40), primary_key=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(2), nullable=False),
        sa.Column("alert_types", sa.Text, nullable=False),
        sa.Column("root_cause_category", sa.String(40)),
        sa.Column("root_cause", sa.Text),
        sa.Column("resolution", sa.Text),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.Column("resolved_at", sa.DateTime),
        sa.Column("postmortem", sa.Text),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("fingerprints", sa.Text),
        sa.Column("alerts", sa.Text),
        sa.Column("thread_id", sa.String(100)),
        sa.Column("timeline", sa.Text),
        sa.Column("updated_at", sa.DateTime),
    )
    action_log = sa.Table(
        "agentops_action_log",
        md,
        sa.Column("idempotency_key", sa.String(400), primary_key=True),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("action_type", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("approved_by", sa.String(200)),
        sa.Column("detail", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )
    messages = sa.Table(
        "agentops_messages",
        md,
        sa.Column("message_id", sa.String(400), primary_key=True),
        sa.Column("incident_id", sa.String(40)),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("last_error", sa.Text),
        sa.Column("external_ref", sa.String(200)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("meta", sa.Text),
        sa.Column("next_attempt_at", sa.DateTime),
    )
    retrain_jobs = sa.Table(
        "agentops_retrain_jobs",
        md,
        sa.Column("job_id", sa.String(100), primary_key=True),
        sa.Column("incident_id", sa.String(40)),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("train_start", sa.DateTime, nullable=False),
        sa.Column("train_end", sa.DateTime, nullable=False),
        sa.Column("excluded_start", sa.DateTime),
        sa.Column("excluded_end", sa.DateTime),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    _create(conn, incidents, action_log, messages, retrain_jobs)
    _index(conn, "ix_agentops_action_log_incident", "agentops_action_log", ("incident_id",))
    _index(conn, "ix_agentops_messages_status", "agentops_messages", ("status", "created_at"))


def _v2(conn: sa.Connection) -> None:
    """The truthful lifecycle: leases, what an incident waits for, silences, heartbeats,
    recorded answers, stored post-mortems."""
    _add_columns(
        conn,
        "agentops_incidents",
        [
            sa.Column("first_breach_at", sa.DateTime),
            sa.Column("remediated_at", sa.DateTime),
            sa.Column("waiting_for", sa.String(20)),
            sa.Column("waiting_detail", sa.Text),
            sa.Column("lease_owner", sa.String(200)),
            sa.Column("lease_until", sa.DateTime),
            sa.Column("parent_id", sa.String(40)),
            sa.Column("owner", sa.String(200)),
        ],
    )
    _add_columns(conn, "agentops_action_log", [sa.Column("approved_via", sa.String(40))])
    _add_columns(conn, "agentops_messages", [sa.Column("seq", sa.Integer)])
    _add_columns(
        conn,
        "agentops_retrain_jobs",
        [
            sa.Column("waiting_for", sa.Text),
            sa.Column("params", sa.Text),
            sa.Column("started_at", sa.DateTime),
            sa.Column("finished_at", sa.DateTime),
            sa.Column("detail", sa.Text),
            sa.Column("result", sa.Text),
        ],
    )
    md = sa.MetaData()
    silences = sa.Table(
        "agentops_silences",
        md,
        sa.Column("silence_id", sa.String(40), primary_key=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("alert_type", sa.String(40)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("starts_at", sa.DateTime, nullable=False),
        sa.Column("until", sa.DateTime),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("lifted_at", sa.DateTime),
    )
    workers = sa.Table(
        "agentops_workers",
        md,
        sa.Column("worker_id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("host", sa.String(200)),
        sa.Column("pid", sa.Integer),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("last_beat", sa.DateTime, nullable=False),
        sa.Column("last_pass_at", sa.DateTime),
        sa.Column("last_pass_status", sa.String(20)),
        sa.Column("detail", sa.Text),
    )
    answers = sa.Table(
        "agentops_answers",
        md,
        sa.Column("answer_id", sa.String(64), primary_key=True),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("thread_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("action_key", sa.String(400)),
        sa.Column("decision", sa.String(40), nullable=False),
        sa.Column("person", sa.String(200), nullable=False),
        sa.Column("via", sa.String(40), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("applied_at", sa.DateTime),
        sa.Column("outcome", sa.Text),
    )
    postmortems = sa.Table(
        "agentops_postmortems",
        md,
        sa.Column("incident_id", sa.String(40), primary_key=True),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("chart_png", sa.LargeBinary),
        sa.Column("written_at", sa.DateTime, nullable=False),
    )
    _create(conn, silences, workers, answers, postmortems)
    _index(conn, "ix_agentops_incidents_status", "agentops_incidents", ("status", "opened_at"))
    _index(conn, "ix_agentops_incidents_model", "agentops_incidents", ("model_name", "opened_at"))
    _index(conn, "ix_agentops_messages_incident", "agentops_messages", ("incident_id",))
    _index(conn, "ix_agentops_answers_thread", "agentops_answers", ("thread_id", "applied_at"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "incidents, action ledger, outbox, retraining jobs", _v1),
    Migration(2, "leases, waits, silences, heartbeats, answers, stored post-mortems", _v2),
)
HEAD = MIGRATIONS[-1].version

_VERSION_TABLE = sa.Table(
    "agentops_schema_version",
    sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)


def current_version(conn: sa.Connection) -> int:
    """The newest applied step, 0 for a store agentops never wrote to."""
    if not sa.inspect(conn).has_table(_VERSION_TABLE.name):
        return 0
    found = conn.execute(sa.select(sa.func.max(_VERSION_TABLE.c.version))).scalar()
    return int(found or 0)


def _apply(conn: sa.Connection, migration: Migration) -> None:
    _VERSION_TABLE.create(conn, checkfirst=True)
    migration.apply(conn)
    conn.execute(
        _VERSION_TABLE.insert().values(
            version=migration.version,
            description=migration.description,
            applied_at=utcnow().replace(tzinfo=None),
        )
    )


def upgrade(engine: sa.Engine, *, target: int = HEAD) -> list[Migration]:
    """Apply every step above the store's version up to `target`, one transaction per step;
    returns those applied."""
    applied: list[Migration] = []
    for migration in MIGRATIONS:
        if migration.version > target:
            break
        with engine.begin() as conn:
            serialize(conn, "migrations")
            if current_version(conn) >= migration.version:
                continue
            _apply(conn, migration)
        applied.append(migration)
    return applied


def ensure_current(engine: sa.Engine, where: str) -> None:
    """Create a fresh store at the newest version; refuse one at another version, naming the
    fix. `where` names the store in messages (its URL without a password).

    A fresh store is created in ONE transaction, decided under the migration lock: a worker
    starting while another creates the store waits for it and then finds the newest version,
    never a half-built store it would mistake for an old one."""
    with engine.connect() as conn:
        version = current_version(conn)
    if version == 0:
        with engine.begin() as conn:
            serialize(conn, "migrations")
            version = current_version(conn)
            if version == 0:
                for migration in MIGRATIONS:
                    _apply(conn, migration)
                version = HEAD
    if version == HEAD:
        return
    if version < HEAD:
        raise StoreError(
            f"the state store at {where} is at schema version {version}; this agentops needs "
            f"version {HEAD}: run `agentops db upgrade`"
        )
    raise StoreError(
        f"the state store at {where} is at schema version {version}, newer than this "
        f"agentops knows ({HEAD}): upgrade agentops"
    )
