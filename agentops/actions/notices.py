"""P3 events are notices, never pages: the runbook keeps #ml-alerts for P1/P2 alerts and
resolutions. Every post a P3 incident makes in its alerts channel goes quietly, as the policy
file's `channels.notices` says:

- `thread` (the default): a reply in the day's notices thread of that channel (one root per
  day and channel, posted with the day's first notice); replies notify nobody.
- `digest`: nothing is posted for the incident; one digest per day and channel lists the
  day's P3 events, posted by the first SLA sweep after the day ends (UTC).

Both go through the ledger, so a root or a digest is posted once whatever retries.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from agentops.actions import formats, wording
from agentops.actions.deliver import deliver_pending
from agentops.actions.outbox import OutgoingMessage, append_outbox_file, enqueue
from agentops.actions.runtime import Runtime
from agentops.domain import Incident, Severity
from agentops.store import ledger, queries
from agentops.store.load import to_db_time
from agentops.store.state_tables import incidents as handled

DIGEST_DAYS = 7  # how far back a missed digest is still posted


def notices_id(day: date) -> str:
    """The notices thread's owner (the `incident_id` of its root and its ledger entry)."""
    return f"NOTICES-{day.isoformat()}"


def is_quiet(rt: Runtime, incident: Incident, channel: str) -> bool:
    """Whether a post of `incident` in `channel` is a P3 notice (its alerts channel only: a
    DM or another team's channel is not a page)."""
    return (
        incident.severity is Severity.P3
        and incident.parent_id is None
        and channel == rt.policy.alerts_channel(incident.model_name)
    )


def open_thread(rt: Runtime, day: date, channel: str) -> str:
    """The day's notices thread in `channel`, its root posted once; returns its owner id,
    which a notice names as `meta.thread_incident` to reply in it."""
    owner = notices_id(day)
    key = f"{owner}|notices|{channel}"
    text = formats.format_notices_root(day)
    message = OutgoingMessage(key, owner, "slack", channel, text, meta={"ledger_key": key})
    _post_once(rt, key, owner, channel, message)
    return owner


def _post_once(rt: Runtime, key: str, owner: str, channel: str, message: OutgoingMessage) -> None:
    with rt.state.begin() as conn:
        claim = ledger.claim(
            conn,
            key=key,
            incident_id=owner,
            action_type="notify_slack",
            target=channel,
            now=rt.now,
        )
        if not claim.fresh:
            return
        row = enqueue(conn, message, now=rt.now, configured=rt.senders.configured("slack"))
        status = "queued" if row["status"] == "queued" else "succeeded"
        detail = f"slack → {channel} ({row['status']})"
        ledger.finish(conn, key=key, status=status, now=rt.now, detail=detail)
    if row["status"] == "outbox":
        append_outbox_file(rt.settings.outbox_dir, [row])
    else:
        deliver_pending(rt.state, rt.settings, now=rt.now, senders=rt.senders, only=[key])


def post_digests(rt: Runtime) -> list[str]:
    """In digest mode, each finished day's digest per channel (the last DIGEST_DAYS days),
    once; returns the ledger keys of the digests posted now."""
    if rt.policy.notices != "digest":
        return []
    today = rt.now.date()
    since = datetime.combine(today - timedelta(days=DIGEST_DAYS), time(), rt.now.tzinfo)
    until = datetime.combine(today, time(), rt.now.tzinfo)
    with rt.state.connect() as conn:
        rows = [
            queries.as_row(r)
            for r in conn.execute(
                sa.select(handled)
                .where(
                    handled.c.severity == Severity.P3.value,
                    handled.c.parent_id.is_(None),
                    handled.c.alerts.is_not(None),
                    handled.c.opened_at >= to_db_time(since, what="since"),
                    handled.c.opened_at < to_db_time(until, what="until"),
                )
                .order_by(handled.c.opened_at, handled.c.incident_id)
            ).mappings()
        ]
    days: dict[tuple[date, str], list[tuple[Incident, str]]] = defaultdict(list)
    for row in rows:
        incident = queries.incident_from_row(row)
        channel = rt.policy.alerts_channel(incident.model_name)
        note = wording.headline_of(None, incident.root_cause) if incident.root_cause else ""
        days[(incident.opened_at.date(), channel)].append((incident, note or "notice"))
    posted = []
    for (day, channel), entries in sorted(days.items()):
        owner = f"DIGEST-{day.isoformat()}"
        key = f"{owner}|digest|{channel}"
        text = formats.format_digest(day, entries)
        message = OutgoingMessage(key, owner, "slack", channel, text, meta={"ledger_key": key})
        with rt.state.connect() as conn:
            done = ledger.get(conn, key) is not None
        if not done:
            _post_once(rt, key, owner, channel, message)
            posted.append(key)
    return posted
