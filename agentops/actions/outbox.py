"""The transactional outbox: the MESSAGES table, written in the same transaction as the
ledger claim, so a message is never lost and never enqueued twice.

A row starts `queued` (a sender is configured: `deliver.deliver_pending` sends it) or
`outbox` (no credentials for that channel: it is also appended as one JSON line to
`$AGENTOPS_HOME/outbox/outbox.jsonl` for a person to read). A queued row that keeps failing
becomes `failed` after `MAX_ATTEMPTS`, still visible in `agentops incidents show`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from agentops.clock import iso
from agentops.store.load import to_db_time
from agentops.store.queries import as_row
from agentops.store.state_tables import messages

Channel = Literal["slack", "github", "email"]
MAX_ATTEMPTS = 8
OUTBOX_FILE = "outbox.jsonl"


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to enqueue. `message_id` is its idempotency key."""

    message_id: str
    incident_id: str
    channel: Channel
    target: str
    text: str
    subject: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def enqueue(
    conn: sa.Connection, message: OutgoingMessage, *, now: datetime, configured: bool
) -> dict[str, Any]:
    """Insert the row (queued if a sender is configured, else outbox); returns it.

    A Slack message to a target that already has a message for this incident replies in that
    first message's thread (`meta.thread_of`).
    """
    meta = dict(message.meta)
    if message.channel == "slack":
        # a storm's incidents reply in the storm's thread (`thread_incident`: its parent)
        owner = str(meta.get("thread_incident") or message.incident_id)
        root = thread_root(conn, owner, message.target)
        if root is not None:
            meta["thread_of"] = root
    row = {
        "message_id": message.message_id,
        "incident_id": message.incident_id,
        "channel": message.channel,
        "target": message.target,
        "subject": message.subject,
        "text": message.text,
        "status": "queued" if configured else "outbox",
        "attempts": 0,
        "created_at": to_db_time(now, what="created_at"),
        "sent_at": None if configured else to_db_time(now, what="sent_at"),
        "meta": json.dumps(meta),
        "seq": _next_seq(conn),
    }
    conn.execute(messages.insert().values(**row))
    return as_row(row)


def _next_seq(conn: sa.Connection) -> int:
    """One past the largest so far: inside the ledger's transaction (the state store's
    writer lock on SQLite), so the outbox keeps the order messages were written in."""
    top = conn.execute(sa.select(sa.func.max(messages.c.seq))).scalar()
    return int(top or 0) + 1


def thread_root(conn: sa.Connection, incident_id: str, target: str) -> str | None:
    """The first Slack message of an incident to `target`: later ones reply in its thread.
    A storm's thread also starts at the first message one of its incidents posted there."""
    in_storm = messages.c.meta.like(f'%"thread_incident": "{incident_id}"%')
    rows = conn.execute(
        sa.select(messages.c.message_id, messages.c.meta)
        .where(
            sa.or_(messages.c.incident_id == incident_id, in_storm),
            messages.c.channel == "slack",
            messages.c.target == target,
        )
        .order_by(messages.c.seq, messages.c.created_at, messages.c.message_id)
    ).all()
    for message_id, meta in rows:
        if "thread_of" not in json.loads(meta or "{}"):
            return str(message_id)
    return None


def get_message(conn: sa.Connection, message_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(messages).where(messages.c.message_id == message_id)).mappings()
    first = row.first()
    return as_row(first) if first is not None else None


def due_messages(
    conn: sa.Connection, now: datetime, only: list[str] | None = None
) -> list[dict[str, Any]]:
    """Queued rows whose next attempt is due, oldest first (so thread roots go first)."""
    query = sa.select(messages).where(
        messages.c.status == "queued",
        sa.or_(
            messages.c.next_attempt_at.is_(None),
            messages.c.next_attempt_at <= to_db_time(now, what="now"),
        ),
    )
    if only is not None:
        query = query.where(messages.c.message_id.in_(only))
    query = query.order_by(messages.c.created_at, messages.c.seq, messages.c.message_id)
    return [as_row(r) for r in conn.execute(query).mappings()]


def mark_sent(conn: sa.Connection, message_id: str, *, now: datetime, external_ref: str) -> None:
    conn.execute(
        messages.update()
        .where(messages.c.message_id == message_id)
        .values(
            status="sent",
            external_ref=external_ref,
            sent_at=to_db_time(now, what="sent_at"),
            attempts=messages.c.attempts + 1,
            last_error=None,
            next_attempt_at=None,
        )
    )


def mark_failed_attempt(
    conn: sa.Connection, row: dict[str, Any], *, now: datetime, error: str
) -> str:
    """Count a failed attempt; back off 30 s, 1 min, 2 min, ... (at most 1 h); give up after
    MAX_ATTEMPTS. Returns the new status."""
    attempts = int(row.get("attempts") or 0) + 1
    status = "failed" if attempts >= MAX_ATTEMPTS else "queued"
    delay = timedelta(seconds=min(3600, 30 * 2 ** (attempts - 1)))
    conn.execute(
        messages.update()
        .where(messages.c.message_id == row["message_id"])
        .values(
            status=status,
            attempts=attempts,
            last_error=error[:2000],
            next_attempt_at=to_db_time(now + delay, what="next_attempt_at"),
        )
    )
    return status


def append_outbox_file(outbox_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Append outbox rows as JSON lines, for a person to read without the database."""
    if not rows:
        return
    outbox_dir.mkdir(parents=True, exist_ok=True)
    with (outbox_dir / OUTBOX_FILE).open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(outbox_entry(row), ensure_ascii=False) + "\n")


def outbox_entry(row: dict[str, Any]) -> dict[str, Any]:
    """The public shape of an outbox message (`agentops outbox --json`)."""
    text = row["text"]
    if row.get("subject"):
        text = f"{row['subject']}\n\n{text}"
    sent_at = row.get("sent_at")
    entry: dict[str, Any] = {
        "channel": row["channel"],
        "target": row["target"],
        "text": text,
        "incident_id": row.get("incident_id"),
        "sent_at": iso(sent_at) if isinstance(sent_at, datetime) else sent_at,
    }
    blocks = json.loads(row.get("meta") or "{}").get("blocks")
    if blocks:
        entry["blocks"] = blocks
    return entry


def list_outbox(conn: sa.Connection, incident_id: str | None = None) -> list[dict[str, Any]]:
    """Every message written to the local outbox, oldest first."""
    query = sa.select(messages).where(messages.c.status == "outbox")
    if incident_id is not None:
        query = query.where(messages.c.incident_id == incident_id)
    query = query.order_by(messages.c.created_at, messages.c.seq, messages.c.message_id)
    return [outbox_entry(as_row(r)) for r in conn.execute(query).mappings()]
