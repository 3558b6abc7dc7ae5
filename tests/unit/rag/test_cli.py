"""`agentops index ...` and `agentops eval retrieval` as a user runs them. In-process
(typer's runner) to stay fast; one subprocess checks the one-line error and exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentops.cli import app
from agentops.errors import IndexError_
from agentops.rag import index as runbook_index

from .conftest import RUNBOOKS

runner = CliRunner()


def run(home: Path, *args: str, **env: str):  # type: ignore[no-untyped-def]
    environment = {"AGENTOPS_HOME": str(home), "AGENTOPS_EMBEDDINGS": "lexical", **env}
    return runner.invoke(app, list(args), env=environment)


def test_build_search_and_repair_a_corrupt_index(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "db", "init").exit_code == 0
    built = run(home, "index", "build", "--json")
    assert built.exit_code == 0, built.output
    summary = json.loads(built.stdout)
    assert summary["runbooks"] == 6 and summary["chunks"] > 6 and summary["incidents"] == 0

    found = run(
        home, "index", "search", "which slack channel for data issues", "--k", "2", "--json"
    )
    hits = json.loads(found.stdout)
    assert len(hits) == 2 and hits[0]["runbook"] == "incident_response"
    assert {"runbook", "section", "text", "score"} <= set(hits[0])
    table = run(home, "index", "search", "which slack channel for data issues")
    assert "Communication channels" in table.stdout

    (home / "index" / "runbooks" / "lexical" / "manifest.json").write_text("garbage")
    runbook_index.clear_cache()  # as a new process
    broken = run(home, "index", "search", "rollback")
    assert isinstance(broken.exception, IndexError_)
    assert "agentops index build" in str(broken.exception)
    assert run(home, "index", "build").exit_code == 0
    runbook_index.clear_cache()
    assert run(home, "index", "search", "rollback").exit_code == 0

    similar = run(home, "index", "similar", "F1 dropped after a release")
    assert similar.exit_code == 0 and "no past incident" in similar.stdout


def test_eval_retrieval_prints_and_writes_the_side_by_side_figures(tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    for stem in ("rollback", "data_quality"):
        shutil.copy(RUNBOOKS / f"{stem}.md", runbooks)
    queries = tmp_path / "queries.yaml"
    queries.write_text(
        "queries:\n"
        "  - {q: roll back the bad release, runbook: rollback, section: Remediation}\n"
        "  - {q: null rate above ten percent on V3, runbook: data_quality}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out" / "retrieval.json"
    ran = run(
        tmp_path / "home",
        "eval", "retrieval", "--queries", str(queries), "--json", str(out),
        AGENTOPS_RUNBOOKS_DIR=str(runbooks), COLUMNS="160",
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    for name in ("minilm", "lexical", "bm25"):
        assert name in ran.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    rows = {row["name"]: row for row in report["results"]}
    assert {"minilm", "lexical", "bm25"} <= set(rows)
    for row in rows.values():
        assert set(row["runbook"]) == {"recall@1", "recall@3", "mrr"}
        assert 0.0 <= row["runbook"]["recall@3"] <= 1.0
        assert row["latency_ms"]["p99"] >= row["latency_ms"]["p50"] >= 0
    assert report["queries"] == 2 and report["section_labelled"] == 1


@pytest.mark.parametrize("command", [["eval", "retrieval", "--queries"], ["index", "search"]])
def test_errors_are_one_line_and_exit_1(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home"
    env = {"AGENTOPS_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home)}
    if command[0] == "eval":
        args = [*command, str(tmp_path / "none.yaml")]
        expected = "cannot read"
    else:  # a runbook folder with a broken runbook in it
        (tmp_path / "runbooks").mkdir()
        (tmp_path / "runbooks" / "rollback.md").write_text("# no front matter\n")
        env["AGENTOPS_RUNBOOKS_DIR"] = str(tmp_path / "runbooks")
        args = [*command, "rollback"]
        expected = "no YAML front matter"
    ran = subprocess.run(
        [sys.executable, "-m", "agentops", *args], capture_output=True, text=True, env=env
    )
    assert ran.returncode == 1 and ran.stdout == ""
    assert ran.stderr.startswith("error:") and expected in ran.stderr
