"""The runbooks themselves, and what a malformed one tells its author."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentops.domain import APPROVAL_REQUIRED, EscalationTarget
from agentops.errors import DataError
from agentops.rag.runbooks import REQUIRED_SECTIONS, load_runbooks, parse_runbook, runbook_text
from agentops.settings import Settings

from .conftest import RUNBOOKS

SHIPPED = sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")
GOOD = (RUNBOOKS / "rollback.md").read_text(encoding="utf-8")


def test_the_six_runbooks_the_seed_links_to_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} == {
        "incident_response",
        "model_drift",
        "data_quality",
        "latency_spike",
        "retraining",
        "rollback",
    }


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_runbook_follows_the_format(path: Path) -> None:
    runbook = parse_runbook(path, path.read_text(encoding="utf-8"))
    assert runbook.meta.id == path.stem
    names = [s.name for s in runbook.sections]
    for required in REQUIRED_SECTIONS:
        assert required in names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_remediation_marks_every_approval_required_action(path: Path) -> None:
    remediation = parse_runbook(path, path.read_text(encoding="utf-8")).section("Remediation")
    assert remediation is not None
    items = re.split(r"\n(?=\s*(?:[-*]|\d+\.)\s)", remediation.body)
    for action in APPROVAL_REQUIRED:
        for item in items:
            if f"`{action.value}`" in item:
                assert "approval" in item, f"{path.stem}: {item.strip()}"


def test_incident_response_carries_the_seed_runbooks_requirements() -> None:
    text = (RUNBOOKS / "incident_response.md").read_text(encoding="utf-8")
    for fact in (
        "F1 < 0.70",
        "error rate > 10%",
        "drift PSI > 0.3",
        "latency p99 > 2 s",
        "null rate > 10%",
        "under 5 minutes (automated)",
        "under 2 hours",
        "under 8 hours",
        "under 24 hours",
        "Slack `#ml-alerts`",
        "Slack `#data-alerts`",
        "🚨 [P1] Model Drift Critical — classifier_v2",
        "Top features: V14 (PSI=0.8), V17 (PSI=0.6)",
        "✅ [Resolved] Model Drift — classifier_v2",
        "Time to resolve: 45 minutes",
        "Post-Mortem: INC-YYYY-MMDD",
    ):
        assert fact in text, fact
    for target in EscalationTarget:
        assert f"`{target.value}`" in text


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("   \n\n", "the file is empty"),
        ("# Rollback\n\n## Symptoms\n", "no YAML front matter"),
        ("---\nid: [rollback\n---\n# x\n", "not valid YAML"),
        (GOOD.replace("categories: [bad_deployment]", "categories: [gremlins]"), "categories"),
        (GOOD.replace("alert_types: [", "alert_types: [cosmic_rays, "), "alert_types"),
        (GOOD.replace("updated: 2026-05-04\n", ""), "updated: Field required"),
        (GOOD.replace("id: rollback", "id: roll_back"), "must equal the file stem"),
        (GOOD.replace("## Escalation", "## Who to call"), "missing section(s) ['Escalation']"),
        (
            GOOD.replace("## Escalation\n", "## Escalation\n\n## Spare\n"),
            "have no text",
        ),
    ],
)
def test_a_malformed_runbook_names_the_file_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, "rollback.md", text)
    with pytest.raises(DataError) as err:
        load_runbooks(tmp_path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_an_empty_or_missing_folder_says_how_to_point_at_runbooks(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no runbooks.*AGENTOPS_RUNBOOKS_DIR"):
        load_runbooks(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_runbooks(tmp_path / "nowhere")


def test_runbook_text_returns_the_file_and_lists_known_ones_when_wrong(tmp_path: Path) -> None:
    cfg = Settings.load(home=tmp_path, runbooks_dir=RUNBOOKS)
    assert runbook_text(cfg, "rollback") == GOOD
    with pytest.raises(DataError) as err:
        runbook_text(cfg, "../settings")
    assert "known runbooks" in str(err.value) and "'rollback'" in str(err.value)


def test_headings_inside_code_fences_are_text_not_sections(tmp_path: Path) -> None:
    fenced = GOOD.replace(
        "## Escalation\n", "## Escalation\n\n```markdown\n## What Happened\n```\n"
    )
    runbook = parse_runbook(tmp_path / "rollback.md", fenced)
    assert "What Happened" not in [s.name for s in runbook.sections]
    escalation = runbook.section("Escalation")
    assert escalation is not None and re.search(r"## What Happened", escalation.body)
