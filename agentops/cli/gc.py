"""Retention: `agentops gc`.

`gc --older-than 30d` is retention for what piles up: the graph's checkpoints of incidents
resolved before the cutoff, their sent outbox rows and recorded answers, their post-mortem
files under AGENTOPS_HOME (only when the state store keeps the report), and heartbeats of
workers silent that long. Incidents, the action ledger (the audit trail) and the stored
post-mortems are kept. --dry-run counts without removing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentops.cli.app import JsonFlag, app, console, print_json, settings
from agentops.clock import iso, utcnow
from agentops.errors import ConfigError, StoreError

if TYPE_CHECKING:
    import sqlalchemy as sa

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([hdw])$")
_UNIT_S = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
MIN_AGE = timedelta(days=1)


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `2w`; at least a day: a resolved incident may still flap back."""
    found = _AGE.match(text.strip().lower())
    if not found:
        raise ConfigError(f"--older-than: expected a number then h, d or w (30d), got {text!r}")
    age = timedelta(seconds=float(found.group(1)) * _UNIT_S[found.group(2)])
    if age < MIN_AGE:
        raise ConfigError("--older-than: at least 1d (a resolved incident may still reopen)")
    return age


def _age_option(text: str) -> str:
    """--older-than checked while parsing: a bad age is a usage error."""
    try:
        parse_age(text)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--older-than: ")) from None
    return text


def _threads(incident_id: str, current: str | None) -> list[str]:
    """Every generation's thread of an incident (a reopen starts a new one), to its current."""
    from agentops.store import incidents as store_incidents

    found = []
    for generation in range(100):
        found.append(store_incidents.thread_for(incident_id, generation))
        if current is None or found[-1] == current:
            break
    return found


def _retention(before: Any) -> dict[str, tuple[sa.Table, sa.ColumnElement[bool]]]:
    """Rows gc removes, by kind: what incidents resolved before `before` left behind."""
    import sqlalchemy as sa

    from agentops.store.state_tables import answers, messages, workers
    from agentops.store.state_tables import incidents as state_incidents

    old = sa.select(state_incidents.c.incident_id).where(
        state_incidents.c.status == "resolved", state_incidents.c.resolved_at < before
    )
    unsent = messages.c.status == "queued"
    loose = sa.and_(messages.c.incident_id.is_(None), messages.c.created_at < before)
    return {
        "messages": (messages, sa.and_(~unsent, sa.or_(messages.c.incident_id.in_(old), loose))),
        "answers": (answers, answers.c.incident_id.in_(old)),
        "workers": (workers, workers.c.last_beat < before),
    }


@app.command("gc")
def gc(
    older_than: Annotated[
        str,
        typer.Option("--older-than", help="e.g. 30d, 12h, 2w (≥ 1d)", callback=_age_option),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, remove nothing")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Remove what incidents resolved more than OLDER_THAN ago leave behind: graph
    checkpoints, sent outbox rows, recorded answers, post-mortem files (when the state store
    keeps the report); and heartbeats of workers silent that long. Incidents, the action
    ledger and the stored post-mortems are kept."""
    import sqlalchemy as sa

    from agentops.graph.runner import config_for
    from agentops.store import open_state
    from agentops.store.checkpoints import checkpointer_for
    from agentops.store.engine import db_error_text, describe_url
    from agentops.store.load import to_db_time
    from agentops.store.state_tables import incidents as state_incidents
    from agentops.store.state_tables import postmortems

    cfg = settings()
    cutoff = utcnow() - parse_age(older_than)
    before = to_db_time(cutoff, what="cutoff")
    rows = _retention(before)
    state = open_state(cfg.resolved_state_url)
    try:
        with state.connect() as conn:
            resolved = conn.execute(
                sa.select(state_incidents.c.incident_id, state_incidents.c.thread_id).where(
                    state_incidents.c.status == "resolved", state_incidents.c.resolved_at < before
                )
            ).all()
            stored = set(conn.execute(sa.select(postmortems.c.incident_id)).scalars())
            counts = {
                kind: int(
                    conn.execute(sa.select(sa.func.count()).select_from(t).where(w)).scalar() or 0
                )
                for kind, (t, w) in rows.items()
            }
        if not dry_run:
            with state.begin() as conn:
                for table, where in rows.values():
                    conn.execute(table.delete().where(where))
    except sa.exc.SQLAlchemyError as exc:
        url = describe_url(cfg.resolved_state_url)
        raise StoreError(f"gc: the state store at {url}: {db_error_text(exc)}") from None
    finally:
        state.dispose()
    files = [
        (incident_id in stored, path)
        for incident_id, _ in resolved
        for path in (cfg.postmortem_dir / f"{incident_id}{ext}" for ext in (".md", ".png"))
        if path.exists()
    ]
    removable = [path for kept_in_store, path in files if kept_in_store]
    with checkpointer_for(cfg) as saver:
        threads = [t for incident_id, now in resolved for t in _threads(incident_id, now)]
        checkpointed = [t for t in threads if saver.get_tuple(config_for(t)) is not None]
        for thread in [] if dry_run else checkpointed:
            saver.delete_thread(thread)
    for path in [] if dry_run else removable:
        path.unlink(missing_ok=True)
    summary = {
        "dry_run": dry_run,
        "cutoff": iso(cutoff),
        "incidents": len(resolved),
        "threads": len(checkpointed),
        **counts,
        "postmortem_files": len(removable),
        "postmortem_files_kept": len(files) - len(removable),
    }
    if json_out:
        print_json(summary)
        return
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{len(resolved)} incident(s) resolved before {summary['cutoff']}: {verb} the "
        f"checkpoints of {len(checkpointed)} thread(s), {counts['messages']} outbox row(s), "
        f"{counts['answers']} answer(s), {len(removable)} post-mortem file(s); and "
        f"{counts['workers']} heartbeat(s) of workers silent since",
        markup=False,
    )
    if summary["postmortem_files_kept"]:
        console.print(
            f"kept {summary['postmortem_files_kept']} post-mortem file(s) the state store "
            "has no copy of",
            markup=False,
        )
    console.print("kept: incidents, the action ledger and the post-mortems in the state store")
