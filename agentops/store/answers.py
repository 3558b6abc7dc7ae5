"""Answers people gave (approvals and controls), recorded before the thread takes them.

A verified answer is written here first, then the thread is resumed with it, then it is
marked applied. A process killed in between leaves it unapplied, and the next scheduler pass
resumes the thread with it: an approval given at the CLI or in Slack is never lost, and
never applied twice (the thread keeps the first decision per action).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from agentops.store.load import to_db_time
from agentops.store.queries import Row, as_row
from agentops.store.state_tables import answers


def record_answer(
    conn: sa.Connection,
    *,
    incident_id: str,
    thread_id: str,
    kind: str,
    decision: str,
    person: str,
    via: str,
    received_at: datetime,
    action_key: str | None = None,
    comment: str = "",
) -> str:
    answer_id = uuid.uuid4().hex
    conn.execute(
        answers.insert().values(
            answer_id=answer_id,
            incident_id=incident_id,
            thread_id=thread_id,
            kind=kind,
            action_key=action_key,
            decision=decision,
            person=person,
            via=via,
            comment=comment,
            received_at=to_db_time(received_at, what="received_at"),
        )
    )
    return answer_id


def mark_applied(conn: sa.Connection, answer_id: str, *, at: datetime, outcome: str) -> None:
    conn.execute(
        answers.update()
        .where(answers.c.answer_id == answer_id)
        .values(applied_at=to_db_time(at, what="applied_at"), outcome=outcome[:2000])
    )


def unapplied(conn: sa.Connection, thread_id: str | None = None) -> list[Row]:
    query = sa.select(answers).where(answers.c.applied_at.is_(None))
    if thread_id is not None:
        query = query.where(answers.c.thread_id == thread_id)
    return [as_row(r) for r in conn.execute(query.order_by(answers.c.received_at)).mappings()]


def resume_value(row: Row) -> dict[str, Any]:
    """What the thread is resumed with for a recorded answer."""
    if row["kind"] == "approval":
        return {"decision": row["decision"], "comment": row.get("comment") or ""}
    return {"kind": "control", "control": row["decision"], "reason": row.get("comment") or ""}


def decided(conn: sa.Connection, action_key: str) -> Row | None:
    """An applied answer that decided `action_key` already (a second click changes nothing)."""
    query = (
        sa.select(answers)
        .where(
            answers.c.action_key == action_key,
            answers.c.applied_at.is_not(None),
            answers.c.outcome.like("decided%"),
        )
        .order_by(answers.c.applied_at)
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    return as_row(row) if row is not None else None


def get_answer(conn: sa.Connection, answer_id: str) -> Row | None:
    row = conn.execute(answers.select().where(answers.c.answer_id == answer_id)).mappings().first()
    return as_row(row) if row is not None else None


# outcomes of an answer that holds its request: decided by it, or on its way to a server
HOLDING_OUTCOMES = ("decided%", "sent%")


def standing(
    conn: sa.Connection, *, action_key: str | None = None, thread_id: str | None = None
) -> Row | None:
    """The first answer that already holds a request — for `action_key` (an approval) or,
    with `thread_id` only, a control on that thread: recorded and not applied yet, applied
    and decided, or sent to the LangGraph server. A refused or late answer holds nothing,
    so the request stays open to the next person."""
    holding = sa.or_(
        answers.c.applied_at.is_(None), *(answers.c.outcome.like(o) for o in HOLDING_OUTCOMES)
    )
    query = sa.select(answers).where(holding)
    if action_key is not None:
        query = query.where(answers.c.action_key == action_key)
    else:
        assert thread_id is not None, "an action key or a thread"
        query = query.where(answers.c.thread_id == thread_id, answers.c.kind == "control")
    row = (
        conn.execute(query.order_by(answers.c.received_at, answers.c.answer_id).limit(1))
        .mappings()
        .first()
    )
    return as_row(row) if row is not None else None
