"""The retrieval eval: the shipped queries, the scoring, and the quality bar MiniLM must hold."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from agentops.errors import DataError
from agentops.rag.evaluate import (
    DEFAULT_QUERIES,
    Query,
    evaluate_retrieval,
    read_queries,
    score_ranker,
)
from agentops.rag.runbooks import load_runbooks
from agentops.settings import Settings

from .conftest import RUNBOOKS


def test_the_shipped_queries_are_many_labelled_and_cover_every_runbook() -> None:
    runbooks = load_runbooks(RUNBOOKS)
    queries = read_queries(DEFAULT_QUERIES, runbooks)  # every label names a real section
    assert len(queries) >= 40
    per_runbook = Counter(q.runbook for q in queries)
    assert set(per_runbook) == {r.stem for r in runbooks}
    assert min(per_runbook.values()) >= 5
    assert len({q.q for q in queries}) == len(queries)


def test_scores_follow_the_ranks_a_ranker_gives() -> None:
    queries = [
        Query(q="first", runbook="a", section="s1"),
        Query(q="second", runbook="b", section="s2"),
        Query(q="third", runbook="c"),
    ]
    rankings = {
        "first": [("a", "s1"), ("b", "x")],  # runbook and section at rank 1
        "second": [("a", "s1"), ("b", "other"), ("b", "S2")],  # runbook 2, section 3
        "third": [("a", "s1"), ("b", "x"), ("d", "y"), ("c", "z")],  # runbook 4
    }
    result = score_ranker("scripted", lambda q, depth: rankings[q][:depth], queries)
    assert result["runbook"] == {"recall@1": 0.3333, "recall@3": 0.6667, "mrr": 0.5833}
    assert result["section"] == {"recall@1": 0.5, "recall@3": 1.0, "mrr": 0.6667}
    assert result["runbook_misses@3"] == ["third"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("queries: [{q: restart it, runbook: kubernetes}]", "names runbook 'kubernetes'"),
        ("queries: [{q: restart it, runbook: rollback, section: Vibes}]", "section 'Vibes'"),
        ("queries: []", "queries"),
        ("- just a list", "expected queries"),
        ("queries: [{q: x, runbook: rollback", "not valid YAML"),
    ],
)
def test_a_bad_queries_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "queries.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_queries(path, load_runbooks(RUNBOOKS))


def test_minilm_meets_the_recall_bar_and_beats_the_lexical_baselines(tmp_path: Path) -> None:
    cfg = Settings.load(home=tmp_path, runbooks_dir=RUNBOOKS)
    report = evaluate_retrieval(cfg, embeddings=("minilm", "lexical"))
    results = {row["name"]: row for row in report["results"]}
    assert set(results) == {"minilm", "lexical", "bm25", "minilm+bm25 (RRF)"}
    minilm = results["minilm"]["runbook"]
    assert minilm["recall@3"] >= 0.95
    assert set(minilm) == {"recall@1", "recall@3", "mrr"}
    for baseline in ("lexical", "bm25"):
        assert minilm["mrr"] > results[baseline]["runbook"]["mrr"]
        assert results["minilm"]["section"]["recall@3"] > results[baseline]["section"]["recall@3"]
    assert report["queries"] >= 40 and report["section_labelled"] > 0
