"""Retrieval tests: runbooks copied into tmp_path, lexical embeddings unless a test is about
the MiniLM model itself, and no index cached from one test into the next."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentops.rag import incidents as incident_search
from agentops.rag import index as runbook_index
from agentops.rag.embeddings import LexicalEmbeddings, MiniLMEmbeddings
from agentops.settings import Settings

RUNBOOKS = Path(__file__).parents[3] / "runbooks"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    runbook_index.clear_cache()
    incident_search.clear_cache()
    yield
    runbook_index.clear_cache()
    incident_search.clear_cache()


@pytest.fixture
def runbooks_dir(tmp_path: Path) -> Path:
    target = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, target)
    return target


@pytest.fixture
def cfg(tmp_path: Path, runbooks_dir: Path) -> Settings:
    return Settings.load(home=tmp_path / "home", runbooks_dir=runbooks_dir, embeddings="lexical")


class CountingLexical(LexicalEmbeddings):
    """Lexical embeddings that count the texts they embed, to see what a rebuild re-embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.embedded.extend(texts)
        return super().embed(texts)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingLexical:
    embedder = CountingLexical()
    for module in (runbook_index, incident_search):
        monkeypatch.setattr(module, "make_embeddings", lambda settings, name=None: embedder)
    return embedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbeddings:
    return MiniLMEmbeddings()
