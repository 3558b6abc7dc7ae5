"""What changed around the incident: deployments, pipeline runs, and the model's history.

Each change is timed against the onset of the degradation (episode.py), not against the
alert: a deployment whose version then served healthy windows, or a run that started after
the trouble began, cannot explain it, and the evidence says so in structured fields
(`hours_before_onset`, `healthy_since`, `first_degraded_version`, `after_onset`). Which
features a run feeds is read from structure too: feature names its notes or its pipeline's
name carry. What the notes *mean* is left to the analyzers (meaning.py).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from statistics import median
from typing import Any

import sqlalchemy as sa

from agentops.agents.episode import Episode, degraded
from agentops.agents.meaning import name_pattern
from agentops.clock import iso
from agentops.detection.thresholds import Thresholds
from agentops.domain import Evidence, Incident
from agentops.store.tables import incidents as incidents_table

Row = dict[str, Any]

# Changes this long before the onset can still explain it (a weekly vendor switch shows
# within hours, but a slow feature-store rollout can take days).
CHANGE_LOOKBACK = timedelta(hours=72)
# Runs this close before the onset are listed one by one even when routine: their timing is
# what the analyzers weigh.
NEAR_ONSET = timedelta(hours=24)
MAX_RUNS = 12
MIN_TYPICAL_RUNS = 3
MAX_PAST_INCIDENTS = 3


def _hours(moment: datetime, onset: datetime) -> float:
    return round((onset - moment).total_seconds() / 3600, 1)


# ---- deployments -----------------------------------------------------------------------------
def deployment_evidence(
    rows: list[Row], history: list[Row], episode: Episode, limits: Thresholds
) -> list[Evidence]:
    if not rows:
        return [
            Evidence(
                id="deploy:none",
                kind="deployment",
                summary=(
                    f"no deployment recorded in the {int(CHANGE_LOOKBACK.total_seconds() // 3600)}"
                    " h before the onset"
                ),
                data={"count": 0},
            )
        ]
    return [_deployment(row, history, episode, limits) for row in rows]


def _deployment(row: Row, history: list[Row], episode: Episode, limits: Thresholds) -> Evidence:
    at: datetime = row["deployed_at"]
    version = str(row["model_version"])
    before = _hours(at, episode.onset)
    # complete windows served after the deployment and before the onset, by this version
    # when the metrics record versions: healthy ones mean the release was already judged
    served = [
        r
        for r in history
        if r["window_start"] >= at
        and r["window_end"] <= episode.onset
        and (not r.get("model_version") or str(r["model_version"]) == version)
    ]
    healthy = sum(1 for r in served if degraded(r, history, limits) is False)
    first_bad = episode.version_at_onset == version and episode.version_before != version
    after = at >= episode.onset_end
    if after:
        when = "after the degradation began"
    elif before >= 0:
        when = f"{before} h before the degradation began"
    else:
        when = "inside the first degraded window"
    notes = []
    if healthy:
        notes.append(f"then served {healthy} healthy window(s)")
    if first_bad:
        notes.append("its version serves the first degraded window")
    return Evidence(
        id=f"deploy:{row['deployment_id']}",
        kind="deployment",
        summary=(
            f"deployment {row['deployment_id']}: {row['model_name']} "
            f"{row.get('previous_version') or '?'} -> {version} at {iso(at)} ({when}"
            + (f"; {'; '.join(notes)}" if notes else "")
            + f"), status {row.get('status') or '?'}"
            + (f"; {_clip(row['description'])}" if row.get("description") else "")
        ),
        data={
            "deployment_id": row["deployment_id"],
            "model_version": version,
            "previous_version": row.get("previous_version"),
            "deployed_at": iso(at),
            "hours_before_onset": before,
            "after_onset": after,
            "healthy_since": healthy,
            "first_degraded_version": first_bad,
            "status": row.get("status"),
            "description": row.get("description") or "",
        },
    )


# ---- pipeline runs ---------------------------------------------------------------------------
def pipeline_evidence(rows: list[Row], episode: Episode, features: list[str]) -> list[Evidence]:
    """Runs that failed, were partial or short, left notes, or ran near the onset, one by
    one; a count for the routine rest."""
    listed = [r for r in rows if _notable(r) or r["started_at"] >= episode.onset - NEAR_ONSET]
    listed = listed[:MAX_RUNS]
    routine = [r for r in rows if r not in listed]
    out = [_run(row, rows, episode, features) for row in listed]
    pipelines = sorted({r["pipeline_name"] for r in routine})
    out.append(
        Evidence(
            id="run:routine",
            kind="pipeline_run",
            summary=(
                f"{len(routine)} other successful pipeline runs without notes in the "
                f"{int(CHANGE_LOOKBACK.total_seconds() // 3600)} h before the onset"
                + (f" ({', '.join(pipelines)})" if pipelines else "")
            ),
            data={"count": len(routine), "pipelines": pipelines, "listed": len(listed)},
        )
    )
    return out


def _notable(row: Row) -> bool:
    return row.get("status") != "success" or bool(str(row.get("notes") or "").strip())


def _run(row: Row, rows: list[Row], episode: Episode, features: list[str]) -> Evidence:
    started: datetime = row["started_at"]
    before = _hours(started, episode.onset)
    same = [r for r in rows if r["pipeline_name"] == row["pipeline_name"] and r is not row]
    sizes = [
        float(r["rows_processed"])
        for r in same
        if r.get("status") == "success" and r.get("rows_processed") is not None
    ]
    # "usual" needs a few runs to mean anything: one nightly run is not a norm for an hourly one
    typical = median(sizes) if len(sizes) >= MIN_TYPICAL_RUNS else None
    retried = row.get("status") != "success" and any(
        r.get("status") == "success" and started < r["started_at"] < episode.onset_end for r in same
    )
    notes = str(row.get("notes") or "")
    in_notes = [f for f in features if name_pattern(f).search(notes)]
    by_name = [f for f in features if _names(row, f)]
    after = started >= episode.onset_end
    when = "after the degradation began" if after else f"{before} h before the degradation began"
    return Evidence(
        id=f"run:{row['run_id']}",
        kind="pipeline_run",
        summary=(
            f"pipeline {row['pipeline_name']} run {row['run_id']} from "
            f"{row.get('source') or '?'} {row['status']} at {iso(started)} ({when}), "
            f"{row.get('rows_processed')} rows"
            + (f" (usually {int(typical)})" if typical else "")
            + ("; retried successfully before the onset" if retried else "")
            + (f"; notes: {_clip(notes)}" if notes.strip() else "")
        ),
        data={
            "run_id": row["run_id"],
            "pipeline_name": row["pipeline_name"],
            "source": row.get("source"),
            "status": row["status"],
            "started_at": iso(started),
            "hours_before_onset": before,
            "after_onset": after,
            "rows_processed": row.get("rows_processed"),
            "typical_rows": typical,
            "retried_ok": retried,
            "notes": notes,
            "features_in_notes": in_notes,
            "features_in_name": by_name,
        },
    )


def _names(row: Row, feature: str) -> bool:
    """The pipeline's or the source's name carries the feature's whole name
    (`sender_reputation_refresh` feeds `sender_reputation`)."""
    pattern = re.compile(rf"(^|[_\W]){re.escape(feature.lower())}([_\W]|$)")
    return any(
        pattern.search(str(row.get(key) or "").lower()) for key in ("pipeline_name", "source")
    )


# ---- the model's own history -------------------------------------------------------------------
def history_evidence(conn: sa.Connection, incident: Incident) -> list[Evidence]:
    """Earlier resolved incidents of the same model, those sharing the most alert types
    first: what fixed it then is a hint to cite, never a reason to decide."""
    query = (
        sa.select(incidents_table)
        .where(
            incidents_table.c.model_name == incident.model_name,
            incidents_table.c.incident_id != incident.incident_id,
            incidents_table.c.root_cause_category.is_not(None),
            incidents_table.c.opened_at < incident.opened_at.replace(tzinfo=None),
        )
        .order_by(incidents_table.c.opened_at.desc())
        .limit(50)
    )
    rows = [dict(r) for r in conn.execute(query).mappings()]
    current = {t.value for t in incident.alert_types}

    def shared(row: Row) -> int:
        return len(current & set(str(row.get("alert_types") or "").split(",")))

    rows.sort(key=lambda r: -shared(r))  # stable: the newest first among equals
    return [
        Evidence(
            id=f"incident:{row['incident_id']}",
            kind="incident",
            summary=(
                f"past incident {row['incident_id']} on {row['model_name']} "
                f"({row.get('alert_types') or '?'}): {row['root_cause_category']} - "
                f"{_clip(row.get('root_cause') or '')}"
                + (f"; resolved by: {_clip(row['resolution'])}" if row.get("resolution") else "")
            ),
            data={
                "incident_id": row["incident_id"],
                "category": row["root_cause_category"],
                "root_cause": row.get("root_cause") or "",
                "resolution": row.get("resolution") or "",
                "shared_alert_types": shared(row),
                "source": "history",
            },
        )
        for row in rows[:MAX_PAST_INCIDENTS]
    ]


def _clip(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
