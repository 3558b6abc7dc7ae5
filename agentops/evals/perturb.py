"""Perturbed copies of eval cases: the same incident told with other words and more noise.

Each generator transforms a `Case` without knowing what the case is about: it rewords
whatever notes the case has, adds harmless notes and rows built from the case's own
structure (its model, pipelines, features and clock), and keeps the case's expectations.
A diagnosis that changes on such a variant was reading the wording, not the evidence.

    variants(case, kinds=None) -> list[Variant]    every generated variant of one case

`agentops.evals.flips.run_perturbed` plays each case and its variants through the eval
runner and counts the flips.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from agentops.cases import Case
from agentops.clock import iso, parse_instant

Tables = dict[str, list[dict[str, Any]]]

# General-English rewording: each pair says the same thing with other words. Applied to any
# note that happens to use the left-hand word; the list is a thesaurus, not the cases' words.
SYNONYMS: tuple[tuple[str, str], ...] = (
    ("instead of", "in place of"),
    ("previously", "formerly"),
    ("changed", "altered"),
    ("changes", "modifications"),
    ("change", "modification"),
    ("switched", "moved"),
    ("renamed", "relabelled"),
    ("now", "from this delivery on"),
    ("sent", "delivered"),
    ("reported", "provided"),
    ("returned", "supplied"),
    ("carries", "contains"),
    ("format", "layout"),
    ("release", "version"),
    ("rollout", "introduction"),
    ("routine", "regular"),
    ("unchanged", "not modified"),
    ("updated", "refreshed"),
    ("loaded", "ingested"),
    ("completed", "finished"),
    ("timed out", "ran out of time"),
    ("dropped", "was cut off"),
    ("missing", "absent"),
    ("new", "revised"),
)
_SYNONYM_RE = re.compile(r"\b(" + "|".join(re.escape(a) for a, _ in SYNONYMS) + r")\b", re.I)
_SYNONYM_MAP = dict(SYNONYMS)

# Notes a pipeline writes on an ordinary day. {pipeline}, {rows}, {feature} and {date} come
# from the case's own rows; none of them describes a change that has happened.
DISTRACTOR_NOTES: dict[str, str] = {
    "routine": "routine scheduled load of {pipeline} finished; {rows} rows processed as usual",
    "documentation": "documentation for the {pipeline} output table updated; no field changes",
    "future": "provider notice: from {date} the {feature} field will be delivered in a new "
    "layout; this delivery still uses the current format",
    "unchanged": "schema unchanged; spec unchanged; {feature} unchanged",
}
OTHER_MODEL = "zz_perturb_other_model"


@dataclass(frozen=True)
class Variant:
    """A transformed copy of a case (`case.id` is `<base id>~<kind>`)."""

    base_id: str
    kind: str
    case: Case


# ---- rewording --------------------------------------------------------------------------------
def reword_synonyms(text: str) -> str:
    """The same note with general synonyms, in a neutral frame."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        other = _SYNONYM_MAP[word.lower()]
        return other.capitalize() if word[0].isupper() else other

    return f"operator log: {_SYNONYM_RE.sub(swap, text)}"


def reword_restructured(text: str) -> str:
    """The note's clauses in reverse order, as separate lower-case sentences."""
    clauses = [c.strip(" .") for c in re.split(r"[;:]\s*", text) if c.strip(" .")]
    return ". ".join(reversed(clauses)).lower() + "."


def _reworded(case: Case, reword: Callable[[str], str]) -> Tables:
    tables = copy.deepcopy(case.tables)
    for row in tables.get("pipeline_runs", []):
        if str(row.get("notes") or "").strip():
            row["notes"] = reword(str(row["notes"]))
    for row in tables.get("deployments", []):
        if str(row.get("description") or "").strip():
            row["description"] = reword(str(row["description"]))
    return tables


# ---- what a generator may read from the case ---------------------------------------------------
def _model(case: Case) -> str:
    if case.model:
        return case.model
    names = sorted({str(r["model_name"]) for r in case.tables.get("model_metrics", [])})
    return names[0] if names else "model"


def _metric_rows(case: Case, model: str) -> list[dict[str, Any]]:
    rows = [r for r in case.tables.get("model_metrics", []) if r["model_name"] == model]
    return sorted(rows, key=lambda r: parse_instant(r["window_start"]))


def _clocks(case: Case) -> list[datetime]:
    return [case.now, *(p.at for p in case.later)]


def _a_pipeline(case: Case, model: str) -> tuple[str, str, int]:
    """(pipeline, source, typical rows) of a pipeline feeding the model, else a generic one."""
    runs = [r for r in case.tables.get("pipeline_runs", []) if r.get("model_name") == model]
    if not runs:
        return "feature_refresh", "upstream_feed", 10000
    first = sorted(runs, key=lambda r: str(r["run_id"]))[0]
    sizes = [int(r["rows_processed"]) for r in runs if r.get("rows_processed")]
    return str(first["pipeline_name"]), str(first.get("source") or ""), int(median(sizes or [1]))


def _a_feature(case: Case, model: str) -> str:
    """The model's feature with the highest PSI in the case (a distractor naming it is the
    hardest kind); the first data-quality feature when there is no drift table."""
    drift = [r for r in case.tables.get("feature_drift", []) if r["model_name"] == model]
    if drift:
        top = max(drift, key=lambda r: (float(r.get("psi") or 0.0), str(r["feature_name"])))
        return str(top["feature_name"])
    quality = [r for r in case.tables.get("data_quality", []) if r["model_name"] == model]
    return str(quality[0]["feature_name"]) if quality else "input"


def _distractor_run(case: Case, kind: str) -> Tables:
    """A successful run of one of the model's pipelines, a few hours before `now`, whose
    notes say nothing has changed (or only announce a change to come)."""
    model = _model(case)
    pipeline, source, rows = _a_pipeline(case, model)
    started = case.now - timedelta(hours=3, minutes=40)
    note = DISTRACTOR_NOTES[kind].format(
        pipeline=pipeline,
        rows=rows,
        feature=_a_feature(case, model),
        date=(case.now + timedelta(days=60)).strftime("%Y-%m-%d"),
    )
    tables = copy.deepcopy(case.tables)
    tables.setdefault("pipeline_runs", []).append(
        {
            "run_id": f"perturb-{kind}",
            "pipeline_name": pipeline,
            "model_name": model,
            "source": source,
            "started_at": iso(started),
            "finished_at": iso(started + timedelta(minutes=15)),
            "status": "success",
            "rows_processed": rows,
            "notes": note,
        }
    )
    return tables


def _note_on_existing_run(case: Case) -> Tables:
    """A steady note naming the model's most drifting feature, written onto a run of the
    case that had none (nothing to write on: no variant)."""
    model = _model(case)
    tables = copy.deepcopy(case.tables)
    for row in tables.get("pipeline_runs", []):
        if row.get("model_name") == model and not str(row.get("notes") or "").strip():
            row["notes"] = (
                f"{_a_feature(case, model)} and the rest of the {row['pipeline_name']} output "
                "refreshed as usual"
            )
            break
    return tables


def _late_routine_run(case: Case) -> Tables:
    """The routine distractor run, placed inside the latest windows instead of before them."""
    tables = _distractor_run(case, "routine")
    run = tables["pipeline_runs"][-1]
    started = case.now - timedelta(hours=1, minutes=20)
    run.update(
        run_id="perturb-late-routine",
        started_at=iso(started),
        finished_at=iso(started + timedelta(minutes=15)),
    )
    return tables


# ---- irrelevant rows ------------------------------------------------------------------------------
_HEALTHY = {
    "model_version": "1.0.0",
    "f1": 0.9,
    "precision": 0.9,
    "recall": 0.9,
    "error_rate": 0.001,
    "latency_p50_ms": 50,
    "latency_p99_ms": 120,
    "request_count": 1000,
    "status": "up",
}
_CLEAN = {"null_rate": 0.001, "row_count": 1000, "out_of_range_rate": 0.0, "schema_errors": 0}


def _healthy_other_model(case: Case) -> Tables:
    """Another model, healthy in every window the case's passes read, deployed two hours
    before the case's clock, fed by a run whose source did change its format: none of it
    concerns the case's model."""
    starts = [parse_instant(r["window_start"]) for r in _metric_rows(case, _model(case))]
    start = (min(starts) if starts else case.now - timedelta(hours=6)).replace(minute=0, second=0)
    tables = copy.deepcopy(case.tables)
    while start + timedelta(hours=1) <= max(_clocks(case)):
        end = start + timedelta(hours=1)
        window = {"model_name": OTHER_MODEL, "window_start": iso(start), "window_end": iso(end)}
        tables.setdefault("model_metrics", []).append({**window, **_HEALTHY})
        for feature in ("other_a", "other_b"):
            row = {**window, "feature_name": feature}
            tables.setdefault("feature_drift", []).append({**row, "psi": 0.02})
            tables.setdefault("data_quality", []).append({**row, **_CLEAN})
        start = end
    ran = case.now - timedelta(hours=3)
    tables.setdefault("deployments", []).append(
        {
            "deployment_id": "perturb-other-deploy",
            "model_name": OTHER_MODEL,
            "model_version": "1.0.0",
            "previous_version": "0.9.0",
            "deployed_at": iso(case.now - timedelta(hours=2)),
            "deployed_by": "ci",
            "description": "1.0.0: new encoder",
            "status": "succeeded",
        }
    )
    tables.setdefault("pipeline_runs", []).append(
        {
            "run_id": "perturb-other-run",
            "pipeline_name": "other_feed",
            "model_name": OTHER_MODEL,
            "source": "other_vendor",
            "started_at": iso(ran),
            "finished_at": iso(ran + timedelta(minutes=10)),
            "status": "success",
            "rows_processed": 1000,
            "notes": "vendor switched other_a to a new format",
        }
    )
    return tables


def _old_deployment(case: Case) -> Tables:
    """A deployment of the case's model two days before its first window, of the version its
    first window serves: old news the windows since have already judged."""
    model = _model(case)
    rows = _metric_rows(case, model)
    first = parse_instant(rows[0]["window_start"]) if rows else case.now - timedelta(hours=6)
    version = next((str(r["model_version"]) for r in rows if r.get("model_version")), None)
    tables = copy.deepcopy(case.tables)
    tables.setdefault("deployments", []).append(
        {
            "deployment_id": "perturb-old-deploy",
            "model_name": model,
            "model_version": version or "0.9.0",
            "previous_version": f"{version or '0.9.0'}-previous",
            "deployed_at": iso(first - timedelta(days=2)),
            "deployed_by": "ci",
            "description": "scheduled refresh",
            "status": "succeeded",
        }
    )
    return tables


def _past_incident(case: Case) -> Tables:
    """A resolved incident of the same model two months ago (history, not this incident)."""
    tables = copy.deepcopy(case.tables)
    opened = case.now - timedelta(days=60)
    tables.setdefault("incidents", []).append(
        {
            "incident_id": "INC-PERTURB-OLD-1",
            "model_name": _model(case),
            "severity": "P1",
            "alert_types": "model_performance",
            "root_cause_category": "bad_deployment",
            "root_cause": "a release shipped a stale preprocessing artefact",
            "resolution": "rolled back",
            "opened_at": iso(opened),
            "resolved_at": iso(opened + timedelta(hours=2)),
        }
    )
    return tables


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
TIME_SHIFT = timedelta(hours=29)  # crosses a day boundary and changes every hour of day
VOLUME_SCALE = 3  # every count three times larger: ratios, the signal, stay the same


def _shift_tables(tables: Tables, by: timedelta) -> Tables:
    out = copy.deepcopy(tables)
    for rows in out.values():
        for row in rows:
            for key, value in row.items():
                if isinstance(value, str) and _INSTANT.match(value):
                    row[key] = iso(parse_instant(value) + by)
    return out


def time_shifted(case: Case) -> Case:
    """The whole case 29 hours later: every instant in its rows, its clock and its passes."""
    later = [
        p.model_copy(
            update={"at": p.at + TIME_SHIFT, "tables": _shift_tables(p.tables, TIME_SHIFT)}
        )
        for p in case.later
    ]
    return case.model_copy(
        update={
            "now": case.now + TIME_SHIFT,
            "tables": _shift_tables(case.tables, TIME_SHIFT),
            "later": later,
        }
    )


def _scaled_volume(case: Case) -> Tables:
    tables = copy.deepcopy(case.tables)
    for rows in tables.values():
        for row in rows:
            for key in ("request_count", "rows_processed", "row_count"):
                if isinstance(row.get(key), int):
                    row[key] *= VOLUME_SCALE
    return tables


def _with_note(kind: str) -> Callable[[Case], Tables]:
    return lambda case: _distractor_run(case, kind)


GENERATORS: dict[str, Callable[[Case], Tables]] = {
    "reworded": lambda c: _reworded(c, reword_synonyms),
    "restructured": lambda c: _reworded(c, reword_restructured),
    **{f"note-{kind}": _with_note(kind) for kind in DISTRACTOR_NOTES},
    "note-existing-run": _note_on_existing_run,
    "note-late-run": _late_routine_run,
    "volume-scaled": _scaled_volume,
    "other-model": _healthy_other_model,
    "old-deployment": _old_deployment,
    "past-incident": _past_incident,
}


KINDS = [*GENERATORS, "time-shifted"]


def variants(case: Case, kinds: list[str] | None = None) -> list[Variant]:
    """Every generated variant of `case` (or the named `kinds`), expectations unchanged."""
    out = []
    for kind in kinds or KINDS:
        if kind == "time-shifted":
            changed = time_shifted(case)
        else:
            tables = GENERATORS[kind](case)
            if tables == case.tables:  # nothing to change: the variant would be the case
                continue
            changed = case.model_copy(update={"tables": tables})
        out.append(Variant(case.id, kind, changed.model_copy(update={"id": f"{case.id}~{kind}"})))
    return out
