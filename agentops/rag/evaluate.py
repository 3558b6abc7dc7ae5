"""The retrieval eval: labelled questions against each way of ranking runbook sections.

A ranker returns (runbook, section) pairs, best first, one per section — what the agents'
runbook tool shows. Runbook level: is a section of the labelled runbook among the top 1 / 3,
and the reciprocal rank of the first one. Section level: the same for the labelled section,
over the queries that name one. Latency is one query's search (embedding included) on an
index already loaded; it is measured here, in an eval, and never asserted in a test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rank_bm25 import BM25Okapi

from agentops.errors import DataError
from agentops.rag.embeddings import make_embeddings, words
from agentops.rag.index import RunbookIndex
from agentops.rag.runbooks import Chunk, Runbook, chunk_runbook, load_runbooks
from agentops.settings import Settings

DEFAULT_QUERIES = (
    Path(__file__).resolve().parent.parent.parent / "evals" / "retrieval" / "queries.yaml"
)
DEPTH = 10  # ranks beyond this count as a miss for MRR
RRF_K = 60  # the usual reciprocal-rank-fusion constant

Ranker = Callable[[str, int], list[tuple[str, str]]]


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    q: str = Field(min_length=1)
    runbook: str
    section: str | None = None


class QueryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[Query] = Field(min_length=1)


def read_queries(path: Path, runbooks: list[Runbook]) -> list[Query]:
    """The labelled queries; DataError if the file is bad or a label names no runbook/section."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        queries = QueryFile.model_validate(raw).queries
    except OSError as exc:
        raise DataError(f"--queries: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"--queries: {path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DataError(
            f"--queries: {path}: {where}: {first['msg']} (expected queries: [{{q, runbook, section?}}])"
        ) from None
    by_stem = {r.stem: r for r in runbooks}
    for n, query in enumerate(queries):
        runbook = by_stem.get(query.runbook)
        if runbook is None:
            raise DataError(
                f"--queries: {path}: query {n} ({query.q!r}) names runbook {query.runbook!r}; "
                f"known: {sorted(by_stem)}"
            )
        if query.section is not None and runbook.section(query.section) is None:
            names = [s.name for s in runbook.sections]
            raise DataError(
                f"--queries: {path}: query {n} names section {query.section!r}, not in "
                f"{query.runbook}: {names}"
            )
    return queries


# --- rankers -----------------------------------------------------------------------------
def embedding_ranker(index: RunbookIndex) -> Ranker:
    def rank(query: str, depth: int) -> list[tuple[str, str]]:
        return [(h.runbook, h.section) for h in index.search(query, k=depth)]

    return rank


def bm25_ranker(chunks: list[Chunk]) -> Ranker:
    bm25 = BM25Okapi([words(c.text) for c in chunks])

    def rank(query: str, depth: int) -> list[tuple[str, str]]:
        scores = bm25.get_scores(words(query))
        return _dedupe([(chunks[i].runbook, chunks[i].section) for i in np.argsort(-scores)], depth)

    return rank


def fused_ranker(first: Ranker, second: Ranker) -> Ranker:
    """Reciprocal rank fusion of two rankers (the 'hybrid' the eval compares against)."""

    def rank(query: str, depth: int) -> list[tuple[str, str]]:
        scores: dict[tuple[str, str], float] = {}
        for ranker in (first, second):
            for position, where in enumerate(ranker(query, DEPTH * 2)):
                scores[where] = scores.get(where, 0.0) + 1.0 / (RRF_K + position + 1)
        return sorted(scores, key=lambda w: -scores[w])[:depth]

    return rank


def _dedupe(ranked: list[tuple[str, str]], depth: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for where in ranked:
        if where not in out:
            out.append(where)
            if len(out) == depth:
                break
    return out


# --- scoring -----------------------------------------------------------------------------
def _scores(ranks: list[int | None]) -> dict[str, float]:
    """recall@1, recall@3 and MRR from 1-based ranks (None: not in the top DEPTH)."""
    n = len(ranks)
    if n == 0:
        return {"recall@1": 0.0, "recall@3": 0.0, "mrr": 0.0}
    return {
        "recall@1": round(sum(1 for r in ranks if r == 1) / n, 4),
        "recall@3": round(sum(1 for r in ranks if r is not None and r <= 3) / n, 4),
        "mrr": round(sum(1.0 / r for r in ranks if r is not None) / n, 4),
    }


def _rank_of(ranked: list[tuple[str, str]], runbook: str, section: str | None = None) -> int | None:
    """1-based rank of the first (runbook[, section]) match, sections compared case-blind."""
    for position, (found_runbook, found_section) in enumerate(ranked):
        if found_runbook == runbook and (
            section is None or found_section.lower() == section.lower()
        ):
            return position + 1
    return None


def score_ranker(name: str, ranker: Ranker, queries: list[Query]) -> dict[str, Any]:
    ranker(queries[0].q, DEPTH)  # warm-up: first-call costs are load time, not query time
    runbook_ranks: list[int | None] = []
    section_ranks: list[int | None] = []
    latencies: list[float] = []
    misses: list[str] = []
    for query in queries:
        started = time.perf_counter()
        ranked = ranker(query.q, DEPTH)
        latencies.append((time.perf_counter() - started) * 1000)
        rank = _rank_of(ranked, query.runbook)
        runbook_ranks.append(rank)
        if rank is None or rank > 3:
            misses.append(query.q)
        if query.section is not None:
            section_ranks.append(_rank_of(ranked, query.runbook, query.section))
    return {
        "name": name,
        "runbook": _scores(runbook_ranks),
        "section": _scores(section_ranks),
        "latency_ms": {
            "p50": round(float(np.percentile(latencies, 50)), 2),
            "p99": round(float(np.percentile(latencies, 99)), 2),
        },
        "runbook_misses@3": misses,
    }


def evaluate_retrieval(
    settings: Settings,
    queries_path: Path | None = None,
    *,
    embeddings: tuple[str, ...] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every ranker's scores on the labelled queries, side by side. Indexes are built in
    memory from the runbooks, so the eval never touches the persisted index."""
    runbooks = load_runbooks(settings.resolved_runbooks_dir)
    path = queries_path or DEFAULT_QUERIES
    queries = read_queries(path, runbooks)
    chunks = [c for r in runbooks for c in chunk_runbook(r)]
    names = embeddings or (
        ("minilm", "lexical", "openai") if settings.openai_api_key else ("minilm", "lexical")
    )
    results: list[dict[str, Any]] = []
    rankers: dict[str, Ranker] = {}
    for name in names:
        if on_step:
            on_step(f"building the {name} index")
        started = time.perf_counter()
        index = RunbookIndex.in_memory(runbooks, make_embeddings(settings, name))
        build_s = time.perf_counter() - started
        rankers[name] = embedding_ranker(index)
        if on_step:
            on_step(f"scoring {name}")
        results.append({**score_ranker(name, rankers[name], queries), "build_s": round(build_s, 2)})
    rankers["bm25"] = bm25_ranker(chunks)
    results.append(score_ranker("bm25", rankers["bm25"], queries))
    if "minilm" in rankers:
        fused = fused_ranker(rankers["minilm"], rankers["bm25"])
        results.append(score_ranker("minilm+bm25 (RRF)", fused, queries))
    return {
        "queries_file": str(path),
        "queries": len(queries),
        "section_labelled": sum(1 for q in queries if q.section is not None),
        "chunks": len(chunks),
        "results": results,
    }
