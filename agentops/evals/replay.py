"""Replay: a past incident's data, re-run with today's thresholds, prompts and model on a
copy in a temporary store (clock = its opened_at), compared with what was recorded.

The copy keeps the real store untouched, and the replay's own settings switch off every
credential and executor command, so a replay never messages anyone or retrains anything.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentops.cases import Case
from agentops.clock import iso
from agentops.evals.export import expectations, slice_incident
from agentops.evals.runner import RunCase, play_case
from agentops.evals.score import planned_types, root_cause_category, root_cause_text
from agentops.settings import Settings
from agentops.store import Stores, open_monitoring
from agentops.store.load import load_tables

REPLAY_APPROVER = "replay-bot"


@dataclass(frozen=True)
class Difference:
    field: str
    recorded: Any
    replayed: Any

    @property
    def same(self) -> bool:
        return self.recorded == self.replayed


def replay_settings(settings: Settings, home: Path) -> Settings:
    """Today's model, runbooks and policy file; a private home; nothing that reaches out."""
    return Settings.load(
        home=home,
        database_url=None,
        config_file=settings.resolved_config_file,
        runbooks_dir=settings.resolved_runbooks_dir,
        model=settings.model,
        openai_api_key=settings.openai_api_key,
        openai_base_url=settings.openai_base_url,
        embeddings=settings.embeddings,
        approvers=REPLAY_APPROVER,
    )


def replay_incident(
    settings: Settings,
    stores: Stores,
    incident_id: str,
    *,
    run_case_fn: RunCase | None = None,
) -> list[Difference]:
    """Re-run `incident_id` and list, field by field, what was recorded and what today's
    code concludes. Recorded approvals are replayed: a rejected action is rejected again."""
    sl = slice_incident(stores, incident_id)
    recorded, approvals = expectations(sl)
    runner = run_case_fn or play_case
    case = Case.model_validate(
        {
            "id": f"replay_{incident_id}",
            "now": sl.opened_at,
            "model": sl.row["model_name"],
            "tables": sl.tables,
            "approvals": approvals,
        }
    )
    with tempfile.TemporaryDirectory(prefix="agentops-replay-") as tmp:
        cfg = replay_settings(settings, Path(tmp))
        copy = open_monitoring(cfg.resolved_database_url, create=True)
        load_tables(copy, sl.tables)
        copy.dispose()
        state = runner(cfg, case)
    incident = state.get("incident") or {}
    get = incident.get if isinstance(incident, dict) else lambda k: getattr(incident, k, None)
    severity = get("severity")
    types = sorted(str(getattr(t, "value", t)) for t in (get("alert_types") or []))
    rows = [
        ("opened at", iso(sl.opened_at), iso(sl.opened_at)),
        ("incident", True, bool(state.get("incident"))),
        ("severity", sl.row["severity"], str(getattr(severity, "value", severity or "")) or None),
        ("alert types", sorted(recorded["alert_types"]), types),
        ("category", sl.row.get("root_cause_category"), root_cause_category(state)),
        ("root cause", sl.row.get("root_cause"), root_cause_text(state) or None),
        (
            "actions",
            sorted(recorded.get("actions", {}).get("include", [])),
            sorted(planned_types(state)),
        ),
    ]
    return [Difference(name, old, new) for name, old, new in rows]
