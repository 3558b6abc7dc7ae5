"""A FAISS inner-product index over unit vectors, persisted without pickle.

On disk, in one folder: `index-<sha12>.faiss` (faiss.write_index) and `manifest.json` (which
embeddings built it, a hash per source document, one metadata record per vector, the index
file's name and sha256). The manifest is replaced last and atomically, so a reader sees the
old index or the new one, never half of each. Anything that does not add up is reported as
corrupt with the command that rebuilds it; nothing here returns an empty result instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from agentops.errors import IndexError_
from agentops.rag.embeddings import NamedEmbeddings, vectors

FORMAT = 1
MANIFEST = "manifest.json"
REBUILD = "agentops index build"


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT
    kind: str
    embeddings: str
    model_id: str
    dim: int
    sources: dict[str, str]
    items: list[dict[str, Any]]
    index_file: str
    index_sha256: str


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorIndex:
    """Vectors in a FAISS IndexFlatIP, each with a metadata record (which holds its `text`)."""

    def __init__(self, index: faiss.Index, items: list[dict[str, Any]]) -> None:
        if index.ntotal != len(items):
            raise ValueError(f"{index.ntotal} vectors for {len(items)} records")
        self.index = index
        self.items = items

    @classmethod
    def build(
        cls,
        embeddings: NamedEmbeddings,
        items: list[dict[str, Any]],
        previous: VectorIndex | None = None,
    ) -> VectorIndex:
        """Embed every item's `text`, reusing the vectors `previous` holds for the same text
        (so a changed runbook or a new incident costs only its own embeddings)."""
        reuse: dict[str, int] = {}
        if previous is not None:
            reuse = {text_key(item["text"]): i for i, item in enumerate(previous.items)}
        keys = [text_key(item["text"]) for item in items]
        missing = [i for i, key in enumerate(keys) if key not in reuse]
        fresh = vectors(embeddings, [items[i]["text"] for i in missing]) if missing else None
        dim = fresh.shape[1] if fresh is not None else previous.index.d if previous else 0
        matrix = np.zeros((len(items), dim), dtype=np.float32)
        if fresh is not None:
            matrix[missing] = fresh
        for i, key in enumerate(keys):
            if key in reuse and previous is not None:
                matrix[i] = previous.index.reconstruct(reuse[key])
        index = faiss.IndexFlatIP(dim)
        if len(items):
            index.add(matrix)
        return cls(index, items)

    def search(self, query: np.ndarray, depth: int) -> list[tuple[int, float]]:
        """(item position, cosine) best first, at most `depth`."""
        depth = min(depth, self.index.ntotal)
        if depth <= 0:
            return []
        scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), depth)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def save(
    directory: Path,
    index: VectorIndex,
    *,
    kind: str,
    embeddings: NamedEmbeddings,
    sources: dict[str, str],
) -> Manifest:
    directory.mkdir(parents=True, exist_ok=True)
    data = faiss.serialize_index(index.index).tobytes()
    sha = hashlib.sha256(data).hexdigest()
    name = f"index-{sha[:12]}.faiss"
    _atomic_write(directory / name, data)
    manifest = Manifest(
        kind=kind,
        embeddings=embeddings.name,
        model_id=embeddings.model_id,
        dim=index.index.d,
        sources=sources,
        items=index.items,
        index_file=name,
        index_sha256=sha,
    )
    _atomic_write(directory / MANIFEST, manifest.model_dump_json(indent=1).encode("utf-8"))
    for old in directory.glob("index-*.faiss"):
        if old.name != name:
            old.unlink(missing_ok=True)
    return manifest


def load(directory: Path, *, what: str) -> tuple[VectorIndex, Manifest] | None:
    """The persisted index, or None when there is none yet; IndexError_ when it is corrupt."""
    path = directory / MANIFEST
    if not path.exists():
        return None

    def corrupt(problem: str) -> IndexError_:
        return IndexError_(
            f"the {what} index in {directory} is corrupt ({problem}); run `{REBUILD}` to rebuild it"
        )

    try:
        manifest = Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
        raise corrupt(f"unreadable {MANIFEST}: {str(exc).splitlines()[0]}") from None
    if manifest.format != FORMAT:
        raise corrupt(f"format {manifest.format}, this agentops reads {FORMAT}")
    index_path = directory / manifest.index_file
    try:
        data = index_path.read_bytes()
    except OSError:
        raise corrupt(f"{manifest.index_file} is missing") from None
    if hashlib.sha256(data).hexdigest() != manifest.index_sha256:
        raise corrupt(f"{manifest.index_file} does not match its checksum")
    try:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError as exc:
        raise corrupt(f"faiss cannot read {manifest.index_file}: {exc}") from None
    if index.ntotal != len(manifest.items) or index.d != manifest.dim:
        raise corrupt(f"{index.ntotal} vectors but {len(manifest.items)} records")
    if any("text" not in item for item in manifest.items):
        raise corrupt("a record has no text")
    return VectorIndex(index, manifest.items), manifest


def persisted_or_reusable(
    directory: Path,
    *,
    what: str,
    sources: dict[str, str],
    embeddings: NamedEmbeddings,
    check: Callable[[VectorIndex, Path], None],
    fallback: VectorIndex | None,
) -> tuple[VectorIndex | None, VectorIndex | None]:
    """(the persisted index when it is current, else None; the vectors a rebuild may reuse).

    A persisted index from the same model but older sources is the best source of reusable
    vectors; otherwise `fallback` (another index of this process from the same model).
    IndexError_ when the files are corrupt (from `load` or `check`).
    """
    loaded = load(directory, what=what)
    if loaded is None:
        return None, fallback
    store, manifest = loaded
    check(store, directory)
    if manifest.model_id != embeddings.model_id:
        return None, fallback
    if manifest.sources == sources:
        return store, None
    return None, store


def same_model_store(
    cache: Mapping[tuple[str, str, str], Any], model_id: str
) -> VectorIndex | None:
    """The newest cached index (keyed (…, …, model_id)) made by `model_id`: its vectors are
    reused for equal texts, so another home of the same process costs no embedding."""
    for (_, _, cached_model), index in reversed(list(cache.items())):
        if cached_model == model_id:
            return index.store
    return None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the LangGraph server may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
