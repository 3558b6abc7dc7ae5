"""Delivery: send queued MESSAGES rows with the real clients, oldest first.

Each row is leased before sending (its `next_attempt_at` moves 5 minutes ahead in one
conditional UPDATE), so two deliverers never send the same row; a process that dies
mid-send leaves the lease to expire and the row is retried. A send the service accepted but
whose acknowledgement we never recorded is the one case that can repeat (at-least-once at
the very edge; Slack and GitHub offer no idempotency key to close it).

Threading: a Slack row with `meta.thread_of` replies in that root's thread once the root is
sent (it waits while the root is still queued). GitHub: the incident's first issue row
creates the issue; later rows edit it (they wait while the first is queued).

Fallback: a P1's Slack message carries the addresses of the people it is for
(`meta.fallback_email`, written by `messaging`). When Slack has refused it FALLBACK_AFTER
times, or it is marked failed, it is emailed to them once (`<message id>#fallback:<address>`)
while Slack keeps retrying; `undelivered_p1` lists what is still not through (`agentops
doctor`).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field

from agentops.actions import outbox
from agentops.actions.clients import Senders, build_senders
from agentops.actions.github_email import fallback_email
from agentops.errors import IntegrationError
from agentops.settings import Settings
from agentops.store import ledger
from agentops.store.load import to_db_time
from agentops.store.queries import as_row
from agentops.store.state_tables import messages

LEASE = timedelta(minutes=5)
FALLBACK_AFTER = 3  # failed Slack attempts (about 1.5 minutes of backoff) before email


class DeliveryReport(BaseModel):
    """What one delivery pass did, by message id."""

    sent: list[str] = Field(default_factory=list)
    retrying: list[str] = Field(default_factory=list, description="failed now, retried later")
    failed: list[str] = Field(default_factory=list, description="gave up after MAX_ATTEMPTS")
    waiting: list[str] = Field(default_factory=list, description="thread root not sent yet")
    fallbacks: list[str] = Field(
        default_factory=list, description="P1 messages Slack refused, now emailed instead"
    )
    errors: dict[str, str] = Field(default_factory=dict)


class _Wait(Exception):
    """The row depends on another row that is not sent yet."""


def deliver_pending(
    engine: sa.Engine,
    settings: Settings,
    *,
    now: datetime,
    senders: Senders | None = None,
    only: list[str] | None = None,
) -> DeliveryReport:
    """Send every queued message that is due (or only the ids in `only`).

    Slack retries 429 (honouring Retry-After), 500/503 and dropped connections inside the
    client (slack-sdk retry handlers); what still fails stays queued with `last_error` and a
    backed-off `next_attempt_at`, and becomes `failed` after `outbox.MAX_ATTEMPTS` attempts.
    """
    senders = senders if senders is not None else build_senders(settings)
    report = DeliveryReport()
    with engine.connect() as conn:
        due = outbox.due_messages(conn, now, only)
    emails = _deliver_rows(engine, senders, due, now, report)
    if report.waiting and len(report.sent) > 0:
        # a reply listed before its thread root (same created_at) goes once the root is sent
        with engine.connect() as conn:
            retry = outbox.due_messages(conn, now, list(report.waiting))
        report.waiting = []
        emails += _deliver_rows(engine, senders, retry, now, report)
    outbox.append_outbox_file(settings.outbox_dir, [r for r in emails if r["status"] == "outbox"])
    queued = [r["message_id"] for r in emails if r["status"] == "queued"]
    if queued:
        with engine.connect() as conn:
            due = outbox.due_messages(conn, now, queued)
        _deliver_rows(engine, senders, due, now, report)
    return report


def _deliver_rows(
    engine: sa.Engine,
    senders: Senders,
    due: list[dict[str, Any]],
    now: datetime,
    report: DeliveryReport,
) -> list[dict[str, Any]]:
    """Send `due`; returns the fallback email rows enqueued for P1 messages Slack refused."""
    fallbacks: list[dict[str, Any]] = []
    for row in due:
        if not _lease(engine, row, now):
            continue
        try:
            ref = _send(engine, senders, row)
        except _Wait:
            _release(engine, row["message_id"])
            report.waiting.append(row["message_id"])
            continue
        except IntegrationError as exc:
            with engine.begin() as conn:
                status = outbox.mark_failed_attempt(conn, row, now=now, error=str(exc))
                made = _fall_back(conn, senders, row, now=now, error=str(exc), gave_up=status)
            (report.failed if status == "failed" else report.retrying).append(row["message_id"])
            report.errors[row["message_id"]] = str(exc)
            if made:
                report.fallbacks.append(row["message_id"])
                fallbacks += made
            continue
        with engine.begin() as conn:
            outbox.mark_sent(conn, row["message_id"], now=now, external_ref=ref)
            settle_ledger(conn, _meta(row).get("ledger_key"), now=now)
        report.sent.append(row["message_id"])
    return fallbacks


def _fall_back(
    conn: sa.Connection,
    senders: Senders,
    row: dict[str, Any],
    *,
    now: datetime,
    error: str,
    gave_up: str,
) -> list[dict[str, Any]]:
    """Email a P1 Slack message Slack keeps refusing to the people it is for, once each."""
    meta = _meta(row)
    attempts = int(row.get("attempts") or 0) + 1
    if row["channel"] != "slack" or meta.get("severity") != "P1":
        return []
    if gave_up != "failed" and attempts < FALLBACK_AFTER:
        return []
    subject, body = fallback_email(row["text"], where=row["target"], error=error, attempts=attempts)
    made = []
    for address in meta.get("fallback_email") or []:
        message_id = f"{row['message_id']}#fallback:{address}"
        if outbox.get_message(conn, message_id) is not None:
            continue
        email = outbox.OutgoingMessage(
            message_id,
            row.get("incident_id") or "",
            "email",
            address,
            body,
            subject,
            {"fallback_of": row["message_id"]},
        )
        made.append(outbox.enqueue(conn, email, now=now, configured=senders.configured("email")))
    return made


def undelivered_p1(conn: sa.Connection) -> list[dict[str, Any]]:
    """P1 Slack messages not through yet after a failed attempt, oldest first, each with
    `fallback`: how its email fallback stands (sent / outbox / queued / failed / none)."""
    rows = [
        as_row(r)
        for r in conn.execute(
            sa.select(messages)
            .where(
                messages.c.channel == "slack",
                messages.c.attempts > 0,
                messages.c.status.in_(["queued", "failed"]),
                messages.c.meta.like('%"severity": "P1"%'),
            )
            .order_by(messages.c.created_at, messages.c.seq, messages.c.message_id)
        ).mappings()
    ]
    for row in rows:
        copies = conn.execute(
            sa.select(messages.c.status).where(
                messages.c.message_id.startswith(f"{row['message_id']}#fallback:", autoescape=True)
            )
        ).scalars()
        states = sorted(set(copies))
        row["fallback"] = ", ".join(states) if states else "none"
    return rows


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(row.get("meta") or "{}"))


def _lease(engine: sa.Engine, row: dict[str, Any], now: datetime) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            messages.update()
            .where(
                messages.c.message_id == row["message_id"],
                messages.c.status == "queued",
                sa.or_(
                    messages.c.next_attempt_at.is_(None),
                    messages.c.next_attempt_at <= to_db_time(now, what="now"),
                ),
            )
            .values(next_attempt_at=to_db_time(now + LEASE, what="lease"))
        )
    return bool(result.rowcount == 1)


def _release(engine: sa.Engine, message_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            messages.update()
            .where(messages.c.message_id == message_id)
            .values(next_attempt_at=None)
        )


def _send(engine: sa.Engine, senders: Senders, row: dict[str, Any]) -> str:
    channel = row["channel"]
    meta = _meta(row)
    if channel == "slack":
        if senders.slack is None:
            raise IntegrationError("no Slack credentials now: set AGENTOPS_SLACK_TOKEN")
        target, thread_ts = row["target"], None
        if meta.get("thread_of"):
            with engine.connect() as conn:
                root = outbox.get_message(conn, meta["thread_of"])
            if root is not None and root["status"] == "queued":
                raise _Wait
            if root is not None and root["status"] == "sent" and root.get("external_ref"):
                target, _, thread_ts = str(root["external_ref"]).partition(":")
        post = senders.slack.post(
            target,
            row["text"],
            thread_ts=thread_ts,
            broadcast=bool(meta.get("broadcast")),
            blocks=meta.get("blocks"),
        )
        return f"{post.channel}:{post.ts}"
    if channel == "github":
        if senders.github is None:
            raise IntegrationError(
                "no GitHub credentials now: set AGENTOPS_GITHUB_TOKEN and AGENTOPS_GITHUB_REPO"
            )
        number = _existing_issue(engine, row)
        created = senders.github.upsert_issue(
            title=row.get("subject") or "agentops incident",
            body=row["text"],
            labels=list(meta.get("labels") or []),
            number=number,
        )
        return str(created)
    if channel == "email":
        if senders.email is None:
            raise IntegrationError("no SMTP server now: set AGENTOPS_SMTP_HOST")
        return senders.email.send(
            to=row["target"], subject=row.get("subject") or "agentops", text=row["text"]
        )
    raise IntegrationError(f"unknown message channel {channel!r}")


def _existing_issue(engine: sa.Engine, row: dict[str, Any]) -> int | None:
    """The incident's issue number, if an earlier GitHub row created it (wait if queued)."""
    with engine.connect() as conn:
        earlier = [
            as_row(r)
            for r in conn.execute(
                sa.select(messages)
                .where(
                    messages.c.incident_id == row["incident_id"],
                    messages.c.channel == "github",
                    messages.c.message_id != row["message_id"],
                    messages.c.created_at <= to_db_time(row["created_at"], what="created_at"),
                )
                .order_by(messages.c.created_at, messages.c.seq, messages.c.message_id)
            ).mappings()
        ]
    for other in earlier:
        if other["status"] == "sent" and other.get("external_ref"):
            return int(other["external_ref"])
    if any(other["status"] == "queued" for other in earlier):
        raise _Wait
    return None


def settle_ledger(conn: sa.Connection, key: str | None, *, now: datetime) -> None:
    """Mark a messaging action succeeded once every message it enqueued is delivered."""
    if not key:
        return
    entry = ledger.get(conn, key)
    if entry is None or entry["status"] != "queued":
        return
    pending = conn.execute(
        sa.select(sa.func.count())
        .select_from(messages)
        .where(
            messages.c.message_id.startswith(key, autoescape=True),
            messages.c.status.not_in(["sent", "outbox"]),
        )
    ).scalar()
    if pending:
        return
    result = json.loads(entry.get("result") or "{}")
    result.update(status="succeeded", detail=result.get("detail", "") + "; delivered")
    ledger.finish(conn, key=key, status="succeeded", now=now, result=result)
