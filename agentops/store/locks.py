"""Serializing the few writes that must not interleave across processes.

On SQLite every state-store transaction already begins as the writer (`BEGIN IMMEDIATE`,
see `store.engine`), which serializes writers for the whole database. On PostgreSQL rows
lock themselves, but "read the open incidents, then insert a new one" must not run twice at
once for the same fleet: `serialize` takes a transaction-scoped advisory lock there, released
at commit or rollback, so a dead process can never leave it held.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (PostgreSQL's advisory lock space)."""
    digest = hashlib.sha256(f"agentops:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def serialize(conn: sa.Connection, name: str) -> None:
    """Hold the lock `name` until this transaction ends (PostgreSQL); SQLite needs none."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
