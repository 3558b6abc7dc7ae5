"""A past incident's data, sliced from the store: the rows detection and diagnosis need
around its opening, and nothing after it. `replay` runs on the slice; `export` writes it as
a new eval case in the CONTRACT.md format, with the resolved incident as the expectation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from agentops.clock import iso
from agentops.domain import APPROVAL_REQUIRED, ActionType
from agentops.errors import DataError
from agentops.store import Stores
from agentops.store import queries as q
from agentops.store.tables import (
    data_quality,
    deployments,
    feature_drift,
    incidents,
    model_metrics,
    model_registry,
    pipeline_runs,
)

# A day of metrics before the opening gives the P3 latency rule its trailing median.
METRICS_LOOKBACK = timedelta(hours=26)
# Drift and data quality: the latest windows are what detection reads; a few show the trend.
FEATURE_LOOKBACK = timedelta(hours=6)
# Changes that could explain the incident: recent deployments and pipeline runs.
DEPLOYMENT_LOOKBACK = timedelta(days=30)
PIPELINE_LOOKBACK = timedelta(hours=24)
CONTRACT_INCIDENT_COLUMNS = (
    "incident_id", "model_name", "severity", "alert_types", "root_cause_category",
    "root_cause", "resolution", "opened_at", "resolved_at",
)  # fmt: skip


@dataclass(frozen=True)
class IncidentSlice:
    row: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    actions: list[dict[str, Any]]

    @property
    def opened_at(self) -> datetime:
        opened: datetime = self.row["opened_at"]
        return opened


def slice_incident(stores: Stores, incident_id: str) -> IncidentSlice:
    """The incident's row, its action log, and the data it was detected and diagnosed on."""
    with stores.state.connect() as conn:
        row = q.get_incident_row(conn, incident_id)
        if row is None:
            raise DataError(f"no incident {incident_id!r}; `agentops incidents list` shows them")
        actions = q.action_log_for(conn, incident_id)
    with stores.monitoring.connect() as conn:
        model, opened = row["model_name"], row["opened_at"]
        naive = opened.replace(tzinfo=None)

        def rows(table: sa.Table, *where: Any) -> list[dict[str, Any]]:
            query = sa.select(table).where(*where)
            return [_plain(q.as_row(r)) for r in conn.execute(query).mappings()]

        def window(table: sa.Table, back: timedelta) -> list[dict[str, Any]]:
            return rows(
                table,
                table.c.model_name == model,
                table.c.window_end <= naive,
                table.c.window_start >= naive - back,
            )

        tables = {
            "model_metrics": window(model_metrics, METRICS_LOOKBACK),
            "feature_drift": window(feature_drift, FEATURE_LOOKBACK),
            "data_quality": window(data_quality, FEATURE_LOOKBACK),
            # strictly before: a rollback made during the incident is its outcome, not input
            "deployments": rows(
                deployments,
                deployments.c.model_name == model,
                deployments.c.deployed_at < naive,
                deployments.c.deployed_at >= naive - DEPLOYMENT_LOOKBACK,
            ),
            "pipeline_runs": rows(
                pipeline_runs,
                sa.or_(pipeline_runs.c.model_name == model, pipeline_runs.c.model_name.is_(None)),
                pipeline_runs.c.started_at <= naive,
                pipeline_runs.c.started_at >= naive - PIPELINE_LOOKBACK,
            ),
            "model_registry": rows(
                model_registry,
                model_registry.c.model_name == model,
                sa.or_(
                    model_registry.c.promoted_at.is_(None), model_registry.c.promoted_at <= naive
                ),
            ),
            # history only: incidents resolved before this one opened
            "incidents": [
                {k: r.get(k) for k in CONTRACT_INCIDENT_COLUMNS}
                for r in rows(
                    incidents,
                    incidents.c.incident_id != incident_id,
                    incidents.c.opened_at < naive,
                )
            ],
        }
    tables["model_registry"] = _registry_as_it_was(tables)
    if not tables["model_metrics"]:
        raise DataError(
            f"{incident_id}: no MODEL_METRICS rows for {model} before {iso(opened)}; "
            "the store no longer holds the data it was detected on"
        )
    return IncidentSlice(row=row, tables=tables, actions=actions)


def _registry_as_it_was(tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The registry before the incident's own actions: a rollback since then changed which
    version is active and marked one bad, so the version serving the latest window is
    made the active one again and every version counts as good."""
    metrics = tables["model_metrics"]
    serving = max(metrics, key=lambda r: r["window_end"])["model_version"] if metrics else None
    return [
        {**r, "active": r["model_version"] == serving, "status": "good"}
        for r in tables["model_registry"]
    ]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """YAML- and load-ready: times as ISO-8601 with Z."""
    return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in row.items()}


def _mentions(row: dict[str, Any]) -> list[str]:
    """Specific names of the incident (features, versions, pipelines) its root cause names."""
    text = row.get("root_cause") or ""
    words = set(re.findall(r"[A-Za-z0-9_.\-]+", text))
    named = [w for w in words if re.search(r"\d", w) or "_" in w]
    return sorted(named)[:3]


def expectations(sl: IncidentSlice) -> tuple[dict[str, Any], dict[str, str]]:
    """The case's `expect:` and `approvals:` from how the incident was resolved."""
    row = sl.row
    gated = {t.value for t in APPROVAL_REQUIRED}
    # handed to its executor (CONTRACT.md `executed`): a queued retrain counts
    done = [a for a in sl.actions if a["status"] in {"succeeded", "queued"}]
    rejected = [a for a in sl.actions if a["status"] == "rejected" and a["action_type"] in gated]
    expect: dict[str, Any] = {
        "incident": True,
        "severity": row["severity"],
        "alert_types": [t for t in (row.get("alert_types") or "").split(",") if t],
    }
    if row.get("root_cause_category"):
        root: dict[str, Any] = {"category": row["root_cause_category"]}
        mentions = _mentions(row)
        if mentions:
            root["mentions"] = mentions
        expect["root_cause"] = root
    if sl.actions:
        planned = sorted({a["action_type"] for a in sl.actions})
        expect["actions"] = {"include": planned}
        expect["executed"] = sorted({a["action_type"] for a in done if a["action_type"] in gated})
        expect["escalate_to"] = sorted(
            {a["target"] for a in done if a["action_type"] == ActionType.escalate.value}
        )
    approvals = {a["action_type"]: "reject" for a in rejected}
    return expect, approvals


def export_case(
    stores: Stores,
    incident_id: str,
    out_dir: Path,
    *,
    number: int,
    false_positive: str | None = None,
) -> Path:
    """Write `<out_dir>/<NNN>_<incident>/case.yaml`; DataError if it exists or is unresolved.

    With `false_positive` (the reason a person gave), the expectation is that nothing opens:
    the case fails until the thresholds or rules stop paging on that data."""
    sl = slice_incident(stores, incident_id)
    if sl.row.get("resolved_at") is None and sl.row.get("status") != "resolved":
        raise DataError(
            f"{incident_id} is not resolved; export a resolved incident so its outcome can "
            "serve as the expectation"
        )
    case_id = f"{number:03d}_{incident_id.lower().replace('-', '_')}"
    folder = out_dir / case_id
    if folder.exists():
        raise DataError(f"{folder} already exists; choose another folder or remove it")
    expect, approvals = expectations(sl)
    if false_positive is not None:
        expect, approvals = {"incident": False}, {}
    about = (
        f"a false positive: {false_positive}"
        if false_positive is not None
        else sl.row.get("root_cause") or ""
    )
    doc: dict[str, Any] = {
        "id": case_id,
        "tags": ["exported", "false_positive"] if false_positive is not None else ["exported"],
        "description": f"Exported from {incident_id}: {about}".strip(),
        "now": iso(sl.opened_at),
        "model": sl.row["model_name"],
        "tables": {name: rows for name, rows in sl.tables.items() if rows},
    }
    if approvals:
        doc["approvals"] = approvals
    doc["expect"] = expect
    folder.mkdir(parents=True)
    path = folder / "case.yaml"
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=200)
    path.write_text(text, encoding="utf-8")
    return path


def next_case_number(out_dir: Path) -> int:
    """One past the highest NNN_ prefix already in `out_dir` (cases are numbered uniquely)."""
    taken = (
        [int(p.name[:3]) for p in out_dir.glob("[0-9][0-9][0-9]_*") if p.name[:3].isdigit()]
        if out_dir.is_dir()
        else []
    )
    return max(taken, default=0) + 1
