"""A post-mortem with substance (issue 18), on a latency incident the monitor noticed late:
impact from the first breaching window with the requests scored while degraded, the SLA lines
and what was slow, action items owned by the people of the policy file, and a chart of what
breached against its threshold and baseline, with the moments that explain it marked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agentops.domain import (
    Action,
    ActionResult,
    ActionType,
    Alert,
    AlertType,
    Diagnosis,
    Incident,
    RootCauseCategory,
    Severity,
    TimelineEntry,
)
from agentops.postmortem import PostMortemInput, write_postmortem
from agentops.postmortem.chart import chart_spec
from agentops.settings import Settings
from agentops.store import Stores, queries
from agentops.store import incidents as store_incidents
from tests.conftest import NOW, make_stores
from tests.unit.detection.builders import drift, load, metrics, window

ID = "INC-2026-1120-1"
OPENED = NOW - timedelta(minutes=55)  # 11:05, after the 10:00-11:00 window
POLICY = """
contacts:
  dana: {name: Dana Lee, slack: U0DANA}
  pat: {name: Pat Kim, slack: U0PAT}
  erin: {name: Erin Park, email: erin@example.com}
roles:
  ml_team_lead: [dana]
  platform_engineering: [pat]
  engineering_manager: [erin]
"""


def at(minutes: int) -> Any:
    return OPENED + timedelta(minutes=minutes)


def _alert(kind: AlertType, metric: str, value: float, limit: float, component: str) -> Alert:
    return Alert(
        type=kind,
        severity=Severity.P2,
        model_name="m1",
        component=component,
        metric=metric,
        value=value,
        threshold=limit,
        **window(1),
    )


def _incident() -> Incident:
    return Incident(
        incident_id=ID,
        model_name="m1",
        severity=Severity.P2,
        alert_types=[AlertType.latency, AlertType.feature_drift],
        alerts=[
            _alert(AlertType.latency, "latency_p99_ms", 2500.0, 2000.0, "model"),
            _alert(AlertType.feature_drift, "psi", 0.5, 0.3, "V9"),
        ],
        opened_at=OPENED,
    )


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(POLICY)
    return Settings.load(home=home, embeddings="lexical")


@pytest.fixture
def stores(home: Settings) -> Stores:
    """m1's history: healthy p99 300 ms, then 2500 ms in the windows starting 08:00, 09:00
    and 10:00 (the monitor noticed only the last), healthy again from 11:00."""
    stores = make_stores(home)
    rows = []
    for hours_ago in range(30, -2, -1):  # windows ending 06:00 yesterday .. 13:00 today
        breaching = hours_ago in (3, 2, 1)
        rows.append(
            metrics(
                hours_ago=hours_ago,
                latency_p99_ms=2500.0 if breaching else 300.0 + (hours_ago % 3),
                request_count=1500 if breaching else 1000,
            )
        )
    psi = [drift("V9", 0.5 if h in (3, 2, 1) else 0.05, hours_ago=h) for h in range(30, -2, -1)]
    others = [
        drift(f, 0.25 if f == "V3" else 0.05, hours_ago=h)
        for f in ("V1", "V3")
        for h in range(30, -2, -1)
    ]
    deploy = {
        "deployment_id": "d-7",
        "model_name": "m1",
        "model_version": "1.1.0",
        "previous_version": "1.0.0",
        "deployed_at": NOW - timedelta(hours=6),
        "deployed_by": "ci",
        "description": "routine",
        "status": "success",
    }

    def run(run_id: str, hours_ago: float, status: str, notes: str | None) -> dict[str, Any]:
        started = NOW - timedelta(hours=hours_ago)
        return {
            "run_id": run_id,
            "pipeline_name": "etl",
            "model_name": "m1",
            "source": "vendor",
            "started_at": started,
            "finished_at": started + timedelta(minutes=20),
            "status": status,
            "rows_processed": 1000,
            "notes": notes,
        }

    load(
        stores.monitoring,
        model_metrics=rows,
        feature_drift=[*psi, *others],
        deployments=[deploy],
        pipeline_runs=[run("r-ok", 5, "success", None), run("r-bad", 4.5, "failed", "timeout")],
    )
    with stores.state.begin() as conn:
        store_incidents.insert_incident(
            conn, _incident(), first_breach_at=window(1)["window_start"]
        )
        store_incidents.set_incident_fields(conn, ID, remediated_at=at(35))
    return stores


def _report() -> PostMortemInput:
    scale = Action(
        type=ActionType.scale_infrastructure,
        target="m1",
        params={"component": "serving", "direction": "up"},
    )
    tell = Action(type=ActionType.escalate, target="platform_engineering")
    return PostMortemInput(
        incident=_incident(),
        diagnosis=Diagnosis(
            category=RootCauseCategory.infrastructure,
            root_cause="Infrastructure: serving degraded (p99 2500 ms) while model 1.1.0 and its "
            "input data are unchanged",
            confidence=0.9,
            evidence_ids=["metric:latency_p99_ms", "deploy:none"],
        ),
        results=[
            ActionResult(
                action=tell, status="succeeded", executed_at=at(22), idempotency_key="k-tell"
            ),
            ActionResult(
                action=scale,
                status="succeeded",
                approved_by="dana",
                executed_at=at(35),
                idempotency_key=scale.key(ID),
            ),
        ],
        timeline=[
            TimelineEntry(phase="detected", at=OPENED),
            TimelineEntry(phase="triage_started", at=at(20)),  # P2 SLA: 15 minutes
            TimelineEntry(phase="root_cause_identified", at=at(21)),
            TimelineEntry(phase="remediation_started", at=at(22)),
            TimelineEntry(phase="approval_requested", at=at(22)),
            TimelineEntry(phase="approval_decided", at=at(35)),
            TimelineEntry(phase="remediation_done", at=at(35)),
            TimelineEntry(phase="service_restored", at=NOW + timedelta(hours=1, minutes=5)),
        ],
    )


def _section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}")[1].split("\n## ")[0]


def test_impact_runs_from_the_first_breaching_window_and_counts_the_requests(
    home: Settings, stores: Stores
) -> None:
    pm = write_postmortem(home, stores, _report(), now=NOW + timedelta(hours=1, minutes=10))
    impact = _section(pm.markdown, "Impact")
    assert (
        "Duration: 180 minutes, from the first breaching window (08:00 UTC) to the first window "
        "of the healthy streak (11:00 UTC); detected at 11:05, 125 minutes after that window "
        "ended" in impact
    ), impact
    assert "model `m1` (version 1.0.0)" in impact
    assert "features `V9`" in impact and "V3" not in impact, "only what breached"
    assert (
        "about 4,500 requests were scored while degraded (request_count over 3 window(s))" in impact
    )
    assert "Latency p99 (ms) reached 2500 (threshold 2000) against a healthy 301" in impact


def test_lessons_give_the_sla_lines_what_was_slow_and_owned_action_items(
    home: Settings, stores: Stores
) -> None:
    now = NOW + timedelta(hours=1, minutes=10)
    pm = write_postmortem(home, stores, _report(), now=now)
    lessons = _section(pm.markdown, "Lessons Learned")
    assert "- Detection → Triage: 20 minutes (SLA 15) — BREACHED" in lessons
    assert "- Triage → Investigation: 1 minute (SLA 30) — met" in lessons
    assert "- Investigation → Resolution: 99 minutes (SLA 480) — met" in lessons
    assert "Detection → Triage took 20 minutes (SLA 15)" in lessons.split("2. ")[1]
    assert (
        "The slowest step was noticing the breach (125 minutes after its first window ended)"
        in lessons
    )
    items = lessons.split("3. Action items:")[1]
    assert (
        "Add capacity headroom for `m1` and alert on saturation before latency breaches — "
        "owner: Pat Kim (platform engineering), due 2026-12-04" in items
    ), items
    assert (
        "Find out why Detection → Triage took 20 minutes (SLA 15) and fix the hand-off — "
        "owner: Dana Lee (ML team lead), due 2026-12-04" in items
    ), items
    with stores.state.connect() as conn:
        row = queries.get_incident_row(conn, ID)
    assert row is not None
    assert row["resolution"] == (
        "Scaled serving up; platform engineering told; Latency p99 (ms) 302, V9 PSI 0.05 for 2 "
        "windows"
    )


def test_the_chart_plots_what_breached_against_threshold_and_baseline_with_markers(
    home: Settings, stores: Stores
) -> None:
    report = _report()
    with stores.monitoring.connect() as conn:
        spec = chart_spec(conn, report, NOW + timedelta(hours=1, minutes=10))
    assert spec is not None
    latency, features = spec.panels
    assert latency.ylabel == "latency_p99_ms", "a latency incident plots p99"
    assert [s.label for s in latency.series] == ["Latency p99 (ms)"]
    assert [t.y for t in latency.thresholds] == [2000.0]
    assert latency.baseline is not None and latency.baseline.y == pytest.approx(301.0)
    assert max(latency.series[0].ys) == 2500.0
    assert features.ylabel == "psi" and [s.label for s in features.series] == ["V9 PSI"]
    assert [t.y for t in features.thresholds] == [0.3]
    kinds = [(m.kind, m.label) for m in spec.markers]
    assert kinds == [
        ("deployment", "deploy 1.1.0"),
        ("pipeline_run", "etl failed"),
        ("detected", "detected"),
        ("remediation", "scale-out"),
        ("recovered", "recovered"),
    ], "the routine pipeline run is no marker"
    assert spec.degraded == (NOW - timedelta(hours=4), NOW - timedelta(hours=1))
    assert spec.start == NOW - timedelta(hours=16)  # 12 h of healthy baseline before 08:00


def test_the_chart_is_written_and_linked(home: Settings, stores: Stores) -> None:
    pm = write_postmortem(home, stores, _report(), now=NOW + timedelta(hours=1, minutes=10))
    assert pm.chart_path is not None and Path(pm.chart_path).read_bytes()[:4] == b"\x89PNG"
    assert f"]({Path(pm.chart_path).name})" in pm.markdown
