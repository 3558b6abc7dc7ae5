"""The post-mortem report, its chart, the INCIDENTS update and the runbook-proposal rule,
on the vendor-format-change eval case loaded into a fresh store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.cases import load_case, read_case
from agentops.clock import parse_instant
from agentops.domain import (
    Action,
    ActionPlan,
    ActionResult,
    Alert,
    Approval,
    Diagnosis,
    Evidence,
    Incident,
    LLMUsage,
    TimelineEntry,
)
from agentops.postmortem import (
    RUNBOOK_MATCH_THRESHOLD,
    PostMortemInput,
    RunbookHit,
    write_postmortem,
)
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import incidents as store_incidents
from agentops.store import queries as q
from agentops.store.state_tables import postmortems
from tests.conftest import make_stores

CASE = Path(__file__).resolve().parents[3] / "evals" / "cases" / "003_vendor_format_change"
OPENED = parse_instant("2026-11-04T12:05:00Z")
NOW = OPENED + timedelta(minutes=41)
ID = "INC-2026-1104-1"


def at(minutes: int) -> datetime:
    return OPENED + timedelta(minutes=minutes)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "data_quality.md").write_text(
        "# Data quality\n\n## Symptoms\n- nulls\n\n## Causes\n- upstream data change: a source "
        "changed its format\n"
    )
    return Settings.load(home=tmp_path / "home", runbooks_dir=runbooks)


def _incident() -> Incident:
    window = dict(
        window_start=parse_instant("2026-11-04T11:00:00Z"),
        window_end=parse_instant("2026-11-04T12:00:00Z"),
    )
    return Incident(
        incident_id=ID,
        model_name="classifier_v2",
        severity="P1",
        alert_types=["model_performance", "feature_drift"],
        alerts=[
            Alert(
                type="model_performance",
                severity="P1",
                model_name="classifier_v2",
                metric="f1",
                value=0.66,
                threshold=0.70,
                **window,
            ),
            Alert(
                type="feature_drift",
                severity="P2",
                model_name="classifier_v2",
                component="V14",
                metric="psi",
                value=0.81,
                threshold=0.3,
                **window,
            ),
        ],
        opened_at=OPENED,
    )


@pytest.fixture
def engine(settings: Settings) -> Stores:
    """The case's monitoring tables, and the incident in the state store."""
    stores = make_stores(settings)
    load_case(stores.monitoring, read_case(CASE))
    with stores.state.begin() as conn:
        store_incidents.insert_incident(conn, _incident())
    return stores


def _report(*, hits: list[RunbookHit] | None = None, reject: bool = False) -> PostMortemInput:
    retrain = Action(type="retrain_model", target="classifier_v2", priority=2)
    slack = Action(type="notify_slack", target="#ml-alerts", priority=0)
    decision = "reject" if reject else "approve"
    results = [
        ActionResult(
            action=slack, status="succeeded", executed_at=at(2), idempotency_key=slack.key(ID)
        ),
        ActionResult(
            action=retrain,
            status="rejected" if reject else "succeeded",
            approved_by=None if reject else "dana",
            executed_at=at(30),
            detail="job rt-17 queued" if not reject else "rejected by dana",
            idempotency_key=retrain.key(ID),
        ),
    ]
    timeline = [
        TimelineEntry(phase="detected", at=OPENED),
        TimelineEntry(phase="triage_started", at=at(1)),
        TimelineEntry(phase="root_cause_identified", at=at(6)),
        TimelineEntry(phase="remediation_started", at=at(8)),
        TimelineEntry(phase="approval_requested", at=at(9), note="retrain_model"),
        TimelineEntry(phase="approval_decided", at=at(28), note=f"{decision} by dana"),
    ]
    if not reject:
        timeline.append(TimelineEntry(phase="service_restored", at=at(35)))
    return PostMortemInput(
        incident=_incident(),
        diagnosis=Diagnosis(
            category="upstream_data_change",
            root_cause="vendor API v3 sends the merchant risk code as a string; V14 and V17 drifted",
            confidence=0.86,
            evidence_ids=["drift:V14", "pipeline:etl-2026110408-v3"],
            recommended_actions=["retrain_model", "escalate"],
            escalate_to=["data_engineering_lead"],
        ),
        evidence=[
            Evidence(id="drift:V14", kind="drift", summary="V14 PSI 0.81 (threshold 0.3)"),
            Evidence(
                id="pipeline:etl-2026110408-v3",
                kind="pipeline_run",
                summary="transactions_etl notes a vendor API v3 format change",
                data={"pipeline_name": "transactions_etl"},
            ),
        ],
        plan=ActionPlan(actions=[slack, retrain]),
        results=results,
        approvals=[
            Approval(
                action_key=retrain.key(ID),
                decision=decision,
                approver="dana",
                comment="go ahead" if not reject else "not yet",
                decided_at=at(28),
            )
        ],
        timeline=timeline,
        usage=LLMUsage(calls=3, tokens_in=4200, tokens_out=610, tool_calls=5),
        runbook_hits=hits
        if hits is not None
        else [RunbookHit(runbook="data_quality", section="Upstream format changes", score=0.71)],
    )


def test_report_has_every_template_section_filled_from_the_state(
    settings: Settings, engine: Stores
) -> None:
    pm = write_postmortem(settings, engine, _report(), now=NOW)
    text = Path(pm.path).read_text()
    assert Path(pm.path) == settings.postmortem_dir / f"{ID}.md"
    assert text == pm.markdown
    assert text.startswith(f"# Post-Mortem: {ID}")
    for heading in (
        "## What Happened",
        "## Root Cause",
        "## Timeline",
        "## Impact",
        "## Lessons Learned",
        "## Preventive Measures",
    ):
        assert heading in text
    what = text.split("## What Happened")[1].split("##")[0]
    assert "f1 of `model` was 0.66 (threshold 0.7)" in what
    assert "V14 PSI 0.81" in text and "(cited)" in text
    assert "vendor API v3" in text.split("## Root Cause")[1]
    timeline = text.split("## Timeline")[1].split("##")[0]
    # one real time per phase of the template, in order
    for clock, label in [
        ("12:05:00", "Alert triggered"),
        ("12:06:00", "began investigation"),
        ("12:11:00", "Root cause identified"),
        ("12:13:00", "Remediation started"),
        ("12:40:00", "Service restored"),
        ("12:46:00", "Post-mortem completed"),
    ]:
        assert f"- {clock} — " in timeline and label in timeline
    assert timeline.index("12:05") < timeline.index("12:40") < timeline.index("12:46")
    impact = text.split("## Impact")[1].split("##")[0]
    # from the first breaching window (F1 0.69 at 10:00, before the alert's 11:00 window),
    # not from detection (12:05), to the restoration (12:40)
    assert "Duration: 160 minutes, from the first breaching window (10:00 UTC)" in impact
    assert "about 18,000 requests were scored while degraded" in impact  # 9,050 + 8,950
    assert "`classifier_v2`" in impact and "`V14`" in impact and "`transactions_etl`" in impact
    assert "User impact:" in impact and "less accurate" in impact
    assert "approve by **dana** at 2026-11-04 12:33 UTC" in text
    assert "| retrain_model | classifier_v2 | succeeded | dana | 12:35 |" in text
    assert "calls: 3, tokens in: 4200, tokens out: 610, tool calls: 5" in text
    lessons = text.split("## Lessons Learned")[1].split("## Preventive")[0]
    assert "owner: data engineering lead, due 2026-11-11" in lessons
    assert "Schema and value-range contracts" in text.split("## Preventive Measures")[1]


def test_chart_is_a_real_png_linked_from_the_report(settings: Settings, engine: Stores) -> None:
    pm = write_postmortem(settings, engine, _report(), now=NOW)
    assert pm.chart_path is not None
    chart = Path(pm.chart_path)
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000, "a chart with two panels and data is not a few bytes"
    assert f"]({chart.name})" in pm.markdown


def test_incident_row_is_closed_with_the_report(settings: Settings, engine: Stores) -> None:
    pm = write_postmortem(settings, engine, _report(), now=NOW)
    with engine.state.connect() as conn:
        row = q.get_incident_row(conn, ID)
    assert row is not None
    assert row["status"] == "resolved"
    assert row["postmortem"] == pm.path
    assert row["root_cause_category"] == "upstream_data_change"
    assert "V14" in row["root_cause"]
    assert row["resolution"].startswith("Retraining queued"), row["resolution"]
    assert row["resolved_at"] == at(35)
    phases = [e.phase for e in q.incident_timeline(row)]
    assert phases[0] == "detected" and phases[-1] == "postmortem_completed"


def test_a_rejected_remedy_shows_in_the_report_of_an_incident_a_person_closed(
    settings: Settings, engine: Stores
) -> None:
    pm = write_postmortem(
        settings, engine, _report(reject=True), now=NOW, resolution="closed by dana: data fixed"
    )
    with engine.state.connect() as conn:
        row = q.get_incident_row(conn, ID)
    assert row is not None and row["status"] == "resolved" and row["resolved_at"] == NOW
    assert row["resolution"] == "closed by dana: data fixed"
    assert "not restored automatically" in pm.markdown
    assert "`retrain_model` was rejected" in pm.markdown


def test_the_report_and_chart_are_kept_in_the_state_store(
    settings: Settings, engine: Stores
) -> None:
    pm = write_postmortem(settings, engine, _report(), now=NOW)
    with engine.state.connect() as conn:
        kept = conn.execute(sa.select(postmortems)).mappings().one()
    assert kept["markdown"] == pm.markdown
    assert kept["chart_png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_no_proposal_when_a_runbook_matched_and_the_category_is_known(
    settings: Settings, engine: Stores
) -> None:
    # the case's history holds an earlier upstream_data_change incident
    pm = write_postmortem(settings, engine, _report(), now=NOW)
    assert pm.runbook_proposal is None
    assert "Proposed runbook addition" not in pm.markdown


def test_weak_runbook_match_proposes_a_diff_against_that_runbook(
    settings: Settings, engine: Stores
) -> None:
    weak = [
        RunbookHit(runbook="data_quality", section="Symptoms", score=RUNBOOK_MATCH_THRESHOLD - 0.05)
    ]
    pm = write_postmortem(settings, engine, _report(hits=weak), now=NOW)
    assert pm.runbook_proposal is not None
    diff = pm.runbook_proposal
    assert "--- a/runbooks/data_quality.md" in diff and "+++ b/runbooks/data_quality.md" in diff
    assert "+## Pattern: upstream data change" in diff
    assert "Proposed because no runbook matched well" in pm.markdown
    assert "```diff" in pm.markdown


def test_a_category_new_to_incidents_but_covered_by_the_runbook_proposes_nothing(
    settings: Settings, engine: Stores
) -> None:
    with engine.monitoring.begin() as conn:
        conn.execute(sa.text("DELETE FROM incidents WHERE incident_id != :i"), {"i": ID})
    pm = write_postmortem(settings, engine, _report(), now=NOW)
    assert pm.runbook_proposal is None
    assert "Proposed runbook addition" not in pm.markdown


def test_a_cause_no_runbook_covers_proposes_a_runbook(settings: Settings, engine: Stores) -> None:
    (settings.resolved_runbooks_dir / "data_quality.md").write_text("# Data quality\n- nulls\n")
    pm = write_postmortem(settings, engine, _report(), now=NOW)
    assert pm.runbook_proposal is not None
    assert "no runbook covers the root-cause category 'upstream_data_change'" in pm.markdown
