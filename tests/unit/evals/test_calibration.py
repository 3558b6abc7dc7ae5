"""Calibration figures, flips and what `agentops eval` prints about them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentops.cases import Case
from agentops.domain import Action, ActionPlan, Diagnosis
from agentops.evals import calibrate, run_perturbed
from agentops.evals import runner as runner_module
from agentops.evals.calibration import diagnosis_confidence
from agentops.settings import Settings

CASES = Path(__file__).resolve().parents[3] / "evals" / "cases"


def test_brier_and_ece_on_a_known_set() -> None:
    # two runs at 0.9 (one right), two at 0.3 (one right)
    result = calibrate([(0.9, True), (0.9, False), (0.3, True), (0.3, False)])
    assert result.brier == pytest.approx((0.01 + 0.81 + 0.49 + 0.09) / 4)
    # each bin is half right: gaps 0.4 and 0.2, each half the runs
    assert result.ece == pytest.approx(0.5 * 0.4 + 0.5 * 0.2)
    filled = [b for b in result.bins if b.count]
    assert [(b.count, b.accuracy) for b in filled] == [(2, 0.5), (2, 0.5)]


def test_a_perfectly_calibrated_answer_scores_zero_ece_and_certainty_is_in_the_top_bin() -> None:
    result = calibrate([(1.0, True), (1.0, True), (0.0, False)])
    assert result.ece == 0 and result.brier == 0
    assert result.bins[-1].count == 2
    assert calibrate([]).count == 0


def test_confidence_is_read_from_a_record_or_its_json() -> None:
    diagnosis = Diagnosis(category="benign", root_cause="minor drift in V7", confidence=0.7)
    assert diagnosis_confidence({"diagnosis": diagnosis}) == 0.7
    assert diagnosis_confidence({"diagnosis": diagnosis.model_dump(mode="json")}) == 0.7
    assert diagnosis_confidence({}) is None


class StandIn:
    """Answers every case with a fixed diagnosis, except that variants of the named kind
    change the category (a flip), so the report's counting can be checked."""

    def __init__(self, flip_kind: str) -> None:
        self.flip_kind = flip_kind

    def __call__(self, settings: Settings, case: Case) -> dict[str, Any]:
        flipped = case.id.endswith(f"~{self.flip_kind}")
        category = "upstream_data_change" if flipped else "adversarial"
        plan = [Action(type="notify_slack", target="#ml-alerts")]
        plan.append(Action(type="escalate", target="security_team"))
        return {  # what case 013 expects, so only a flip can fail the run
            "incident": {
                "incident_id": "INC-X",
                "severity": "P1",
                "alert_types": ["model_performance", "feature_drift"],
            },
            "diagnosis": Diagnosis(category=category, root_cause="probe on V4", confidence=0.8),
            "action_plan": ActionPlan(actions=plan),
            "escalated_to": ["security_team"],
        }


@pytest.fixture
def one_case(tmp_path: Path) -> Path:
    out = tmp_path / "cases"
    shutil.copytree(CASES / "013_adversarial_fraud_probe", out / "013_adversarial_fraud_probe")
    return out


def test_flips_are_counted_against_the_cases_own_run_per_kind(one_case: Path) -> None:
    report = run_perturbed(one_case, play=StandIn("note-future"))
    assert len(report.flips) == 1 and report.flips[0][0].kind == "note-future"
    assert report.flip_rate == pytest.approx(1 / len(report.variants))
    assert report.per_kind()["note-future"] == (1, 1)
    assert report.per_kind()["old-deployment"] == (0, 1)
    pairs = report.calibration_pairs()
    assert len(pairs) == 1 + len(report.variants)
    assert sum(not ok for _, ok in pairs) == 1  # the flipped variant is wrong for the case


def test_eval_prints_calibration_and_writes_it_to_json(
    one_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentops.cli import app

    monkeypatch.setattr(runner_module, "play_case", StandIn("none"))
    monkeypatch.setenv("AGENTOPS_HOME", str(tmp_path / "home"))
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "--cases", str(one_case), "--json", str(out)])
    assert "Brier score 0.0400" in result.output, result.output
    assert "expected calibration error 0.2000" in result.output
    written = json.loads(out.read_text())
    assert written["calibration"]["runs"] == 1 and written["calibration"]["brier"] == 0.04


def test_eval_perturb_reports_the_flip_rate_and_exits_1_on_a_flip(
    one_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentops.cli import app

    monkeypatch.setattr(runner_module, "play_case", StandIn("note-unchanged"))
    monkeypatch.setenv("AGENTOPS_HOME", str(tmp_path / "home"))
    out = tmp_path / "report.json"
    args = ["eval", "--perturb", "--cases", str(one_case), "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "013_adversarial_fraud_probe~note-unchanged" in result.output
    written = json.loads(out.read_text())["perturbation"]
    assert written["flips"] == ["013_adversarial_fraud_probe~note-unchanged"]
    assert written["per_kind"]["note-unchanged"] == {"flips": 1, "variants": 1}

    monkeypatch.setattr(runner_module, "play_case", StandIn("none"))
    result = CliRunner().invoke(app, ["eval", "--perturb", "--cases", str(one_case)])
    assert result.exit_code == 0, result.output
    assert "0 (0.0%)" in result.output
