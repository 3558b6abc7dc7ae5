"""The runner, the CLI, replay and export, with a stand-in for playing a case through the
graph (injected, as the runner's seam allows) so they are tested apart from the graph."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from agentops.cases import Case, load_case, read_case
from agentops.clock import parse_instant
from agentops.domain import Action, ActionPlan, ActionResult, Diagnosis, Incident, LLMUsage
from agentops.evals import export_case, replay_incident, report_json, run_suite
from agentops.evals import runner as runner_module
from agentops.settings import Settings
from agentops.store import Stores, create_store_engine, init_schema, ledger
from agentops.store import incidents as store_incidents
from agentops.store import queries as q
from tests.conftest import make_stores

CASES = Path(__file__).resolve().parents[3] / "evals" / "cases"


class FakeGraph:
    """Records what each run saw and answers like a graph that diagnosed a bad deployment
    and asked to roll back."""

    def __init__(self, crash_on: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.crash_on = crash_on

    def __call__(self, settings: Settings, case: Case) -> dict[str, Any]:
        now, model_name = case.now, case.model
        eng = create_store_engine(settings.resolved_database_url)
        with eng.connect() as conn:
            rows = conn.execute(sa.text("SELECT count(*) FROM model_metrics")).scalar()
        eng.dispose()
        answer = runner_module.decider(case)(
            {
                "incident_id": "INC-X",
                "action": {
                    "type": "rollback_model",
                    "target": model_name,
                    "reason": "",
                    "params": {},
                },
            }
        )
        self.calls.append(
            {
                "home": settings.home,
                "now": now,
                "model": model_name,
                "rows": rows,
                "answer": answer,
                "approvers": settings.approvers,
                "slack": settings.slack_token,
                "model_setting": settings.model,
                "scale_command": settings.scale_command,
            }
        )
        if self.crash_on and self.crash_on in str(settings.home):
            raise RuntimeError("graph blew up")
        rollback = Action(type="rollback_model", target=model_name or "m")
        assert answer is not None
        status = "succeeded" if answer["decision"] == "approve" else "rejected"
        return {
            "incident": {
                "incident_id": "INC-X",
                "severity": "P1",
                "alert_types": ["model_performance"],
            },
            "diagnosis": Diagnosis(
                category="bad_deployment", root_cause="version 2.4.1 broke it", confidence=0.8
            ),
            "action_plan": ActionPlan(
                actions=[Action(type="notify_slack", target="#ml-alerts"), rollback]
            ),
            "actions_taken": [
                ActionResult(action=rollback, status=status, idempotency_key=rollback.key("INC-X"))
            ],
            "escalated_to": ["ml_team_lead"] if status == "rejected" else [],
            "llm_usage": LLMUsage(calls=2, tokens_in=100, tokens_out=20),
        }


@pytest.fixture
def cases_dir(tmp_path: Path) -> Path:
    out = tmp_path / "cases"
    for name in ("001_healthy_classifier", "018_rollback_rejected"):
        shutil.copytree(CASES / name, out / name)
    return out


def test_each_case_runs_on_its_own_store_with_its_clock_and_approvals(cases_dir: Path) -> None:
    graph = FakeGraph()
    outcomes = run_suite(cases_dir, model="offline", run_case_fn=graph)
    assert [o.id for o in outcomes] == ["001_healthy_classifier", "018_rollback_rejected"]
    healthy, rejected = graph.calls
    assert healthy["home"] != rejected["home"]
    assert healthy["rows"] == len(
        read_case(cases_dir / "001_healthy_classifier").tables["model_metrics"]
    )
    assert rejected["now"] == parse_instant("2026-11-19T12:05:00Z")
    assert rejected["model"] == "classifier_v2"
    assert healthy["answer"]["decision"] == "approve"
    assert rejected["answer"] == {
        "decision": "reject",
        "comment": "eval case 018_rollback_rejected",
    }
    assert rejected["approvers"] == ("eval-bot",) and rejected["slack"] is None
    assert rejected["model_setting"] == "offline"
    # executors point at a stand-in that only writes inside the case's own home
    assert str(rejected["home"]) in (rejected["scale_command"] or "")
    # the stand-in always opens an incident: the healthy case fails, the rejected one passes
    assert not outcomes[0].passed and outcomes[0].checks == {"incident": False}
    assert outcomes[1].passed, outcomes[1].checks
    assert all(o.seconds > 0 for o in outcomes)


def test_a_crashing_case_fails_alone_and_the_json_report_has_the_documented_shape(
    cases_dir: Path,
) -> None:
    outcomes = run_suite(cases_dir, run_case_fn=FakeGraph(crash_on="001_"))
    assert outcomes[0].error == "crash: RuntimeError: graph blew up"
    assert outcomes[1].passed
    report = report_json(outcomes)
    assert set(report) == {"cases", "totals"}
    assert {"id", "passed", "checks", "seconds"} <= set(report["cases"][0])
    totals = report["totals"]
    assert totals["cases"] == {"passed": 1, "total": 2}
    assert totals["checks"]["escalation"] == {"passed": 1, "total": 1}
    assert totals["llm"]["calls"] == 2, "a crashed case reports no usage"


def test_cli_prints_tables_writes_json_and_exits_1_below_100_percent(
    cases_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentops.cli import app

    monkeypatch.setattr(runner_module, "play_case", FakeGraph())
    monkeypatch.setenv("AGENTOPS_HOME", str(tmp_path / "home"))
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "--cases", str(cases_dir), "--json", str(out)])
    assert result.exit_code == 1, result.output
    assert "018_rollback_rejected" in result.output and "totals" in result.output
    written = json.loads(out.read_text())
    assert [c["passed"] for c in written["cases"]] == [False, True]

    only_passing = tmp_path / "passing"
    shutil.copytree(cases_dir / "018_rollback_rejected", only_passing / "018_rollback_rejected")
    result = CliRunner().invoke(app, ["eval", "--cases", str(only_passing)])
    assert result.exit_code == 0, result.output


# ---- replay and export on a seeded store ----------------------------------------------------
@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Settings, Stores, str]:
    settings = Settings.load(home=tmp_path / "home")
    stores = make_stores(settings)
    case = read_case(CASES / "018_rollback_rejected")
    load_case(stores.monitoring, case)
    opened = case.now
    incident = Incident(
        incident_id="INC-2026-1119-1",
        model_name="classifier_v2",
        severity="P1",
        alert_types=["model_performance"],
        opened_at=opened,
        status="escalated",
        resolved_at=opened + timedelta(hours=2),
        root_cause_category="bad_deployment",
        root_cause="classifier_v2 2.4.1 broke precision and recall",
        resolution="rolled back by hand after review",
    )
    with stores.state.begin() as conn:
        store_incidents.insert_incident(conn, incident)
        for kind, target, status in [
            ("rollback_model", "classifier_v2", "rejected"),
            ("escalate", "ml_team_lead", "succeeded"),
            ("notify_slack", "#ml-alerts", "succeeded"),
        ]:
            key = f"{incident.incident_id}|{kind}|{target}"
            ledger.claim(
                conn,
                key=key,
                incident_id=incident.incident_id,
                action_type=kind,
                target=target,
                now=opened,
            )
            ledger.finish(conn, key=key, status=status, now=opened)
    with stores.monitoring.begin() as conn:
        # data from after the incident opened must not leak into its slice
        conn.execute(
            sa.text(
                "INSERT INTO model_metrics (model_name, window_start, window_end, f1, status) "
                "VALUES ('classifier_v2', '2026-11-19 13:00:00', '2026-11-19 14:00:00', 0.1, 'up')"
            )
        )
    return settings, stores, incident.incident_id


def test_export_writes_a_case_that_parses_with_the_resolution_as_expectation(
    seeded: tuple[Settings, Stores, str], tmp_path: Path
) -> None:
    _, eng, incident_id = seeded
    path = export_case(eng, incident_id, tmp_path / "new", number=31)  # eng: the two stores
    case = read_case(path)
    assert case.id == "031_inc_2026_1119_1" and path.parent.name == case.id
    assert case.now == parse_instant("2026-11-19T12:05:00Z") and case.model == "classifier_v2"
    e = case.expect
    assert e.incident is True and e.severity == "P1"
    assert [t.value for t in e.alert_types or []] == ["model_performance"]
    assert e.root_cause is not None and e.root_cause.category == "bad_deployment"
    assert "2.4.1" in e.root_cause.mentions
    assert e.executed == [] and [t.value for t in e.escalate_to or []] == ["ml_team_lead"]
    assert case.decision_for("rollback_model") == "reject"
    assert max(parse_instant(r["window_end"]) for r in case.tables["model_metrics"]) <= case.now
    assert all(r["incident_id"] != incident_id for r in case.tables.get("incidents", []))
    # and it loads into a fresh store, as every case must
    fresh = create_store_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    init_schema(fresh)
    assert load_case(fresh, case)["model_metrics"] == 6


def test_replay_runs_on_a_copy_and_shows_what_changed(
    seeded: tuple[Settings, Stores, str],
) -> None:
    settings, eng, incident_id = seeded
    graph = FakeGraph()
    diffs = {d.field: d for d in replay_incident(settings, eng, incident_id, run_case_fn=graph)}
    (call,) = graph.calls
    assert call["home"] != settings.home, "the replay never writes to the real store"
    assert call["rows"] == 6 and call["now"] == parse_instant("2026-11-19T12:05:00Z")
    assert call["answer"]["decision"] == "reject", "recorded rejections are replayed"
    assert diffs["category"].same and diffs["severity"].same
    assert not diffs["root cause"].same
    assert diffs["root cause"].replayed == "version 2.4.1 broke it"
    with eng.state.connect() as conn:
        assert q.get_incident_row(conn, incident_id)["status"] == "escalated"  # type: ignore[index]


def test_an_exported_case_counts_a_queued_retrain_as_executed() -> None:
    """CONTRACT.md's `executed`: handed to its executor — a retrain queued behind an
    upstream fix counts, as the scorer counts it; a failed one does not."""
    from agentops.evals.export import IncidentSlice, expectations

    row = {
        "incident_id": "INC-2026-1130-1",
        "severity": "P1",
        "alert_types": "model_performance",
        "root_cause_category": "upstream_data_change",
        "root_cause": "vendor format change in transactions_etl",
        "opened_at": parse_instant("2026-11-30T06:00:00Z"),
    }
    actions = [
        {"action_type": "retrain_model", "target": "classifier_v2", "status": "queued"},
        {"action_type": "escalate", "target": "data_engineering_lead", "status": "queued"},
        {"action_type": "scale_infrastructure", "target": "classifier_v2", "status": "failed"},
    ]
    expect, _ = expectations(IncidentSlice(row=row, tables={}, actions=actions))
    assert expect["executed"] == ["retrain_model"]
    assert expect["escalate_to"] == ["data_engineering_lead"]
