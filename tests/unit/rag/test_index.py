"""The runbook index: built once, loaded once, rebuilt when a runbook changes, loud when
corrupt, and a LangChain retriever."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document

from agentops.errors import DataError, IndexError_
from agentops.rag import RunbookIndex, runbook_retriever
from agentops.rag import index as runbook_index
from agentops.rag.runbooks import chunk_runbook, load_runbooks
from agentops.settings import Settings

from .conftest import CountingLexical


def _files(cfg: Settings) -> list[Path]:
    return sorted((cfg.index_dir / "runbooks" / "lexical").iterdir())


def test_open_builds_persists_and_finds_the_right_runbook(cfg: Settings) -> None:
    index = RunbookIndex.open(cfg)
    names = [p.name for p in _files(cfg)]
    assert "manifest.json" in names and any(n.endswith(".faiss") for n in names)
    hits = index.search("mark the bad version so it is not promoted again", k=3)
    assert len(hits) == 3 and hits[0].runbook == "rollback"
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert len({(h.runbook, h.section) for h in hits}) == 3  # one hit per section
    assert hits[0].text.startswith(f"Rolling back a model version — {hits[0].section}")


def test_a_second_process_loads_instead_of_embedding_again(
    cfg: Settings, counting: CountingLexical
) -> None:
    RunbookIndex.open(cfg)
    built = len(counting.embedded)
    assert built == RunbookIndex.open(cfg).store.index.ntotal  # cached: no new embeddings
    runbook_index.clear_cache()  # as a new process would start
    reopened = RunbookIndex.open(cfg)
    assert len(counting.embedded) == built + 0
    assert reopened.search("null rate above 10%", k=1)[0].runbook == "data_quality"


def test_editing_a_runbook_rebuilds_only_what_changed(
    cfg: Settings, runbooks_dir: Path, counting: CountingLexical
) -> None:
    RunbookIndex.open(cfg)
    counting.embedded.clear()
    path = runbooks_dir / "rollback.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "- No new deployment of the bad version.",
            "- No new deployment of the bad version.\n- The canary dashboard shows zebra stripes.",
        ),
        encoding="utf-8",
    )
    index = RunbookIndex.open(cfg)
    # only the chunks whose text changed were embedded again
    assert counting.embedded
    assert all(
        t.startswith("Rolling back a model version — Verification") for t in counting.embedded
    )
    assert index.search("zebra stripes on the canary dashboard", k=1)[0].runbook == "rollback"
    # the rebuilt index was persisted: a new process finds the change without rebuilding
    runbook_index.clear_cache()
    counting.embedded.clear()
    assert RunbookIndex.open(cfg).search("zebra stripes", k=1)[0].section == (
        "Verification after the fix"
    )
    assert counting.embedded == ["zebra stripes"]


def test_adding_and_removing_a_runbook_is_noticed(cfg: Settings, runbooks_dir: Path) -> None:
    assert "retraining" in RunbookIndex.open(cfg).sources
    (runbooks_dir / "retraining.md").unlink()
    assert "retraining" not in RunbookIndex.open(cfg).sources
    hits = RunbookIndex.open(cfg).search("retrain the model", k=5)
    assert all(h.runbook != "retraining" for h in hits)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / "manifest.json").write_text("{not json", encoding="utf-8"),
        lambda d: next(d.glob("*.faiss")).write_bytes(b"\x00" * 64),
        lambda d: next(d.glob("*.faiss")).unlink(),
    ],
    ids=["manifest", "faiss-bytes", "faiss-missing"],
)
def test_a_corrupt_index_is_an_error_with_the_fix_and_build_repairs_it(
    cfg: Settings, damage
) -> None:
    RunbookIndex.open(cfg)
    damage(cfg.index_dir / "runbooks" / "lexical")
    runbook_index.clear_cache()
    with pytest.raises(IndexError_) as err:
        RunbookIndex.open(cfg)
    assert "corrupt" in str(err.value) and "agentops index build" in str(err.value)
    RunbookIndex.build(cfg)
    runbook_index.clear_cache()
    assert RunbookIndex.open(cfg).search("escalation matrix", k=1)


def test_a_malformed_runbook_stops_the_index_instead_of_vanishing(
    cfg: Settings, runbooks_dir: Path
) -> None:
    (runbooks_dir / "latency_spike.md").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"latency_spike\.md: the file is empty"):
        RunbookIndex.open(cfg)


def test_bad_queries_are_errors_not_empty_results(cfg: Settings) -> None:
    index = RunbookIndex.open(cfg)
    with pytest.raises(DataError, match="non-empty"):
        index.search("   ")
    with pytest.raises(DataError, match="at least 1"):
        index.search("rollback", k=0)
    everything = index.search("model", k=500)
    sections = {
        (c.runbook, c.section)
        for r in load_runbooks(cfg.resolved_runbooks_dir)
        for c in chunk_runbook(r)
    }
    assert len(everything) == len(sections)


def test_the_retriever_returns_documents_with_runbook_section_and_score(cfg: Settings) -> None:
    docs = runbook_retriever(cfg, k=2).invoke("which slack channel for data quality issues")
    assert len(docs) == 2 and all(isinstance(d, Document) for d in docs)
    assert docs[0].metadata["runbook"] == "incident_response"
    assert docs[0].metadata["section"] == "Communication channels"
    assert docs[0].metadata["score"] >= docs[1].metadata["score"]
    assert "#data-alerts" in docs[0].page_content


def test_a_second_home_in_the_same_process_reuses_the_vectors(
    cfg: Settings, tmp_path: Path, counting: CountingLexical
) -> None:
    RunbookIndex.open(cfg)
    counting.embedded.clear()
    other = cfg.model_copy(update={"home": tmp_path / "another-home"})
    index = RunbookIndex.open(other)  # e.g. the next eval case, with its own AGENTOPS_HOME
    assert counting.embedded == []
    assert (other.index_dir / "runbooks" / "lexical" / "manifest.json").is_file()
    assert index.search("escalation matrix", k=1)
