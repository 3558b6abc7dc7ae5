"""The runbook index: runbook sections embedded in FAISS, searched by meaning.

`RunbookIndex.open(settings)` is cheap to call repeatedly: the index is loaded once per
process, and each call re-reads the runbooks (six small files) to compare their content
hashes with the ones the index was built from. A changed, added or removed runbook, or other
embeddings, rebuild it (re-embedding only the chunks whose text changed) and persist it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentops.errors import DataError, IndexError_
from agentops.rag import vectors as vx
from agentops.rag.embeddings import NamedEmbeddings, make_embeddings, vectors
from agentops.rag.runbooks import Chunk, Runbook, chunk_runbook, load_runbooks
from agentops.settings import Settings

KIND = "runbooks"


class RunbookHit(BaseModel):
    """One runbook section that matches a query: its whole text (title and section name
    first), and the cosine similarity (-1..1) of its best-matching chunk."""

    model_config = ConfigDict(frozen=True)

    runbook: str = Field(description="the runbook's file stem, e.g. 'rollback'")
    section: str
    text: str
    score: float


_CACHE: dict[tuple[str, str, str], RunbookIndex] = {}
_LOCK = threading.Lock()


def index_dir(settings: Settings, embeddings: NamedEmbeddings) -> Path:
    return settings.index_dir / KIND / embeddings.name


def _key(settings: Settings, directory: Path, embeddings: NamedEmbeddings) -> tuple[str, str, str]:
    """One cached index per runbook folder, index folder and embedding model."""
    runbooks = str(settings.resolved_runbooks_dir.resolve())
    return (runbooks, str(directory.resolve()), embeddings.model_id)


class RunbookIndex:
    """Runbook chunks in a FAISS index with the embeddings that made them. Get one with
    `open` (normal use), `build` (force) or `in_memory` (evals); query with `search`."""

    def __init__(
        self,
        embeddings: NamedEmbeddings,
        store: vx.VectorIndex,
        sources: dict[str, str],
        directory: Path | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.store = store
        self.sources = sources
        self.directory = directory

    # --- opening and building ------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings) -> RunbookIndex:
        """The index for `settings`: from this process's cache, else from disk, built when
        missing and rebuilt when a runbook changed. IndexError_ when the files are corrupt."""
        runbooks = load_runbooks(settings.resolved_runbooks_dir)
        sources = {r.stem: r.content_hash for r in runbooks}
        embeddings = make_embeddings(settings)
        directory = index_dir(settings, embeddings)
        key = _key(settings, directory, embeddings)
        with _LOCK:
            cached = _CACHE.get(key)
            if cached is not None and cached.sources == sources:
                return cached
            current, reusable = vx.persisted_or_reusable(
                directory,
                what="runbook",
                sources=sources,
                embeddings=embeddings,
                check=_check_records,
                fallback=cached.store
                if cached is not None
                else vx.same_model_store(_CACHE, embeddings.model_id),
            )
            if current is not None:
                index = cls(embeddings, current, sources, directory)
            else:
                index = cls._build(runbooks, embeddings, reusable, directory)
            _CACHE[key] = index
            return index

    @classmethod
    def build(cls, settings: Settings, embeddings: NamedEmbeddings | None = None) -> RunbookIndex:
        """Rebuild from scratch and persist, whatever is on disk (the fix for a corrupt index)."""
        runbooks = load_runbooks(settings.resolved_runbooks_dir)
        embeddings = embeddings or make_embeddings(settings)
        directory = index_dir(settings, embeddings)
        index = cls._build(runbooks, embeddings, None, directory)
        with _LOCK:
            _CACHE[_key(settings, directory, embeddings)] = index
        return index

    @classmethod
    def in_memory(cls, runbooks: list[Runbook], embeddings: NamedEmbeddings) -> RunbookIndex:
        """An index that is never persisted (evals, tests)."""
        return cls._build(runbooks, embeddings, None, None)

    @classmethod
    def _build(
        cls,
        runbooks: list[Runbook],
        embeddings: NamedEmbeddings,
        previous: vx.VectorIndex | None,
        directory: Path | None,
    ) -> RunbookIndex:
        chunks = [c for r in runbooks for c in chunk_runbook(r)]
        items: list[dict[str, Any]] = [c.model_dump() for c in chunks]
        store = vx.VectorIndex.build(embeddings, items, previous)
        sources = {r.stem: r.content_hash for r in runbooks}
        if directory is not None:
            try:
                vx.save(directory, store, kind=KIND, embeddings=embeddings, sources=sources)
            except OSError as exc:
                raise IndexError_(
                    f"cannot write the runbook index to {directory}: {exc}; make it writable "
                    f"(or set AGENTOPS_HOME) and run `{vx.REBUILD}`"
                ) from None
        return cls(embeddings, store, sources, directory)

    # --- searching -----------------------------------------------------------------------
    @property
    def chunks(self) -> list[Chunk]:
        return [Chunk.model_validate(item) for item in self.store.items]

    def search(self, query: str, k: int = 3) -> list[RunbookHit]:
        """The `k` best runbook sections for `query`, best first (one hit per section)."""
        if not query.strip():
            raise DataError("runbook search needs a non-empty query")
        if k < 1:
            raise DataError(f"k must be at least 1, got {k}")
        vector = vectors(self.embeddings, [query])[0]
        # a section has several chunks (parts, items): read deeper until k sections are found
        depth = k * 8
        while True:
            hits = self._sections(self.store.search(vector, depth), k)
            if len(hits) == k or depth >= self.store.index.ntotal:
                return hits
            depth *= 4

    def _sections(self, ranked: list[tuple[int, float]], k: int) -> list[RunbookHit]:
        """The first k distinct sections of a ranking, each scored by its best chunk."""
        hits: list[RunbookHit] = []
        seen: set[tuple[str, str]] = set()
        for position, score in ranked:
            item = self.store.items[position]
            where = (item["runbook"], item["section"])
            if where in seen:
                continue
            seen.add(where)
            hits.append(
                RunbookHit(
                    runbook=item["runbook"],
                    section=item["section"],
                    text=item["section_text"],
                    score=round(score, 4),
                )
            )
            if len(hits) == k:
                break
        return hits

    def as_retriever(self, k: int = 3) -> BaseRetriever:
        return RunbookRetriever(index=self, k=k)


def _check_records(store: vx.VectorIndex, directory: Path) -> None:
    try:
        for item in store.items:
            Chunk.model_validate(item)
    except ValidationError as exc:
        raise IndexError_(
            f"the runbook index in {directory} is corrupt or from another agentops version "
            f"({exc.errors()[0]['msg']}); run `{vx.REBUILD}` to rebuild it"
        ) from None


class RunbookRetriever(BaseRetriever):
    """Runbook sections as LangChain Documents (metadata: runbook, section, score)."""

    index: Any
    k: int = 3

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                page_content=hit.text,
                metadata={
                    "runbook": hit.runbook,
                    "source": hit.runbook,  # the name LangChain loaders use
                    "section": hit.section,
                    "score": hit.score,
                },
            )
            for hit in self.index.search(query, k=self.k)
        ]


def runbook_retriever(settings: Settings, k: int = 3) -> BaseRetriever:
    """The retriever the agents' runbook tool uses."""
    return RunbookIndex.open(settings).as_retriever(k)


def clear_cache() -> None:
    """Forget the indexes loaded in this process (tests; after deleting index files)."""
    with _LOCK:
        _CACHE.clear()
