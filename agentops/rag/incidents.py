"""Similar past incidents: INCIDENTS rows embedded like the runbooks, searched by meaning.

A row is indexed once it has a root cause or a resolution (an incident still being
diagnosed teaches nothing yet). The index is keyed by a hash of the indexed rows: every call
reads the few columns it needs, and when a row was added or edited, only the changed rows are
re-embedded and the index is persisted again. `add_incident` is what a post-mortem calls.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from agentops.clock import iso
from agentops.errors import DataError, IndexError_, StoreError
from agentops.rag import vectors as vx
from agentops.rag.embeddings import NamedEmbeddings, make_embeddings, vectors, words
from agentops.settings import Settings
from agentops.store.tables import incidents

KIND = "incidents"
_COLUMNS = (
    "incident_id",
    "model_name",
    "severity",
    "alert_types",
    "root_cause_category",
    "root_cause",
    "resolution",
    "opened_at",
)
# Words too common in incident text to explain a match.
_STOP_WORDS = """a an and are as at be by did do for from has have in is it its of on or the this to
was were what when where which why with after before model models incident incidents our we i
how new still"""
_STOP = frozenset(_STOP_WORDS.split())


class IncidentHit(BaseModel):
    """A past incident like the one described, and why it matched."""

    model_config = ConfigDict(frozen=True)

    incident_id: str
    score: float = Field(description="cosine similarity of the descriptions (-1..1)")
    why: list[str] = Field(description="the fields and terms the query shares with it")
    model_name: str
    severity: str
    alert_types: list[str]
    symptoms: str = Field(description="alert types, and alert messages when recorded")
    root_cause_category: str | None
    root_cause: str | None
    resolution: str | None
    opened_at: str


def _symptoms(row: dict[str, Any]) -> str:
    """The alert types INCIDENTS records (the contract's columns: no alert detail)."""
    types = [t.replace("_", " ") for t in (row.get("alert_types") or "").split(",") if t]
    return "alerts: " + ", ".join(types) if types else ""


def incident_text(row: dict[str, Any]) -> str:
    """What is embedded for one incident: symptoms, then cause, then fix."""
    category = (row.get("root_cause_category") or "").replace("_", " ")
    return (
        f"{row.get('severity') or ''} incident on {row['model_name']}. "
        f"Symptoms: {_symptoms(row)}. "
        f"Root cause ({category}): {row.get('root_cause') or 'unknown'}. "
        f"Resolution: {row.get('resolution') or 'none recorded'}."
    )


def _row_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(incident_text(row).encode("utf-8")).hexdigest()


def _read_rows(engine: sa.Engine) -> list[dict[str, Any]]:
    query = sa.select(*(incidents.c[name] for name in _COLUMNS)).where(
        sa.or_(incidents.c.root_cause.is_not(None), incidents.c.resolution.is_not(None))
    )
    try:
        with engine.connect() as conn:
            rows = [
                dict(r) for r in conn.execute(query.order_by(incidents.c.incident_id)).mappings()
            ]
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read INCIDENTS: {str(exc).splitlines()[0]}; run `agentops db init`"
        ) from None
    for row in rows:
        row["opened_at"] = iso(row["opened_at"])
    return rows


_CACHE: dict[tuple[str, str, str], IncidentIndex] = {}
_LOCK = threading.Lock()


def _check_records(store: vx.VectorIndex, directory: Path) -> None:
    if any(not {"incident_id", "model_name"} <= set(item) for item in store.items):
        raise IndexError_(
            f"the incident index in {directory} is corrupt (a record has no incident_id); "
            f"run `{vx.REBUILD}` to rebuild it"
        )


def _key(engine: sa.Engine, directory: Path, embeddings: NamedEmbeddings) -> tuple[str, str, str]:
    url = engine.url.render_as_string(hide_password=True)
    return (url, str(directory.resolve()), embeddings.model_id)


class IncidentIndex:
    def __init__(self, embeddings: NamedEmbeddings, store: vx.VectorIndex, sources: dict[str, str]):
        self.embeddings = embeddings
        self.store = store
        self.sources = sources

    @classmethod
    def open(cls, engine: sa.Engine, settings: Settings) -> IncidentIndex:
        """The index of INCIDENTS as it is now: cached per process, persisted under
        settings.index_dir, refreshed when rows changed."""
        rows = _read_rows(engine)
        sources = {row["incident_id"]: _row_hash(row) for row in rows}
        embeddings = make_embeddings(settings)
        directory = settings.index_dir / KIND / embeddings.name
        key = _key(engine, directory, embeddings)
        with _LOCK:
            cached = _CACHE.get(key)
            if cached is not None and cached.sources == sources:
                return cached
            current, reusable = vx.persisted_or_reusable(
                directory,
                what="incident",
                sources=sources,
                embeddings=embeddings,
                check=_check_records,
                fallback=cached.store
                if cached is not None
                else vx.same_model_store(_CACHE, embeddings.model_id),
            )
            if current is not None:
                index = cls(embeddings, current, sources)
            else:
                index = cls._build(rows, embeddings, reusable, directory)
            _CACHE[key] = index
            return index

    @classmethod
    def build(cls, engine: sa.Engine, settings: Settings) -> IncidentIndex:
        """Rebuild from scratch and persist, whatever is on disk (the fix for a corrupt index)."""
        rows = _read_rows(engine)
        embeddings = make_embeddings(settings)
        directory = settings.index_dir / KIND / embeddings.name
        index = cls._build(rows, embeddings, None, directory)
        with _LOCK:
            _CACHE[_key(engine, directory, embeddings)] = index
        return index

    @classmethod
    def _build(
        cls,
        rows: list[dict[str, Any]],
        embeddings: NamedEmbeddings,
        previous: vx.VectorIndex | None,
        directory: Path,
    ) -> IncidentIndex:
        # the alerts JSON can be long; the record keeps its summary (symptoms) instead
        items = [
            {
                **{k: v for k, v in row.items() if k != "alerts"},
                "symptoms": _symptoms(row),
                "text": incident_text(row),
            }
            for row in rows
        ]
        store = vx.VectorIndex.build(embeddings, items, previous)
        sources = {row["incident_id"]: _row_hash(row) for row in rows}
        try:
            vx.save(directory, store, kind=KIND, embeddings=embeddings, sources=sources)
        except OSError as exc:
            raise IndexError_(
                f"cannot write the incident index to {directory}: {exc}; make it writable "
                f"(or set AGENTOPS_HOME) and run `{vx.REBUILD}`"
            ) from None
        return cls(embeddings, store, sources)

    def search(self, text: str, k: int = 3, *, exclude: Collection[str] = ()) -> list[IncidentHit]:
        if not text.strip():
            raise DataError("similar-incident search needs a non-empty description")
        if k < 1:
            raise DataError(f"k must be at least 1, got {k}")
        vector = vectors(self.embeddings, [text])[0]
        hits: list[IncidentHit] = []
        for position, score in self.store.search(vector, depth=k + len(exclude)):
            item = self.store.items[position]
            if item["incident_id"] in exclude:
                continue
            hits.append(_hit(item, score, text))
            if len(hits) == k:
                break
        return hits


def _terms(text: str) -> set[str]:
    """Content words, underscores split, a plural 's' dropped: 'feature_drift' ~ 'features drifting'."""
    out: set[str] = set()
    for word in words(text.replace("_", " ")):
        if word in _STOP or len(word) < 2:
            continue
        out.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return out


_WHY_FIELDS = (
    ("alert types", "alert_types"),
    ("symptoms", "symptoms"),
    ("category", "root_cause_category"),
    ("root cause", "root_cause"),
    ("resolution", "resolution"),
)


def _hit(item: dict[str, Any], score: float, query: str) -> IncidentHit:
    wanted = _terms(query)
    alert_terms = _terms(str(item.get("alert_types") or ""))
    why: list[str] = []
    for label, field in _WHY_FIELDS:
        field_terms = _terms(str(item.get(field) or ""))
        if field == "symptoms":  # already said under alert types
            field_terms -= alert_terms
        shared = sorted(wanted & field_terms)
        if shared:
            why.append(f"{label}: {', '.join(shared)}")
    if not why:
        why.append("similar in meaning; no words in common")
    return IncidentHit(
        incident_id=item["incident_id"],
        score=round(score, 4),
        why=why,
        model_name=item["model_name"],
        severity=item.get("severity") or "",
        alert_types=[t for t in str(item.get("alert_types") or "").split(",") if t],
        symptoms=item.get("symptoms") or "",
        root_cause_category=item.get("root_cause_category"),
        root_cause=item.get("root_cause"),
        resolution=item.get("resolution"),
        opened_at=item.get("opened_at") or "",
    )


def similar_incidents(
    engine: sa.Engine,
    settings: Settings,
    text: str,
    k: int = 3,
    *,
    exclude: Collection[str] = (),
) -> list[IncidentHit]:
    """Past incidents most like `text` (symptoms, a suspected cause), best first; `exclude`
    leaves out ids such as the incident being handled."""
    return IncidentIndex.open(engine, settings).search(text, k, exclude=exclude)


def add_incident(engine: sa.Engine, settings: Settings, incident_id: str) -> None:
    """Index one incident after its post-mortem, so the next search can find it."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(incidents.c.root_cause, incidents.c.resolution).where(
                incidents.c.incident_id == incident_id
            )
        ).first()
    if row is None:
        raise DataError(f"no incident {incident_id!r} in INCIDENTS; check the id")
    if row.root_cause is None and row.resolution is None:
        raise DataError(
            f"incident {incident_id} has no root cause or resolution yet; add it to the index "
            "after its post-mortem records them"
        )
    index = IncidentIndex.open(engine, settings)
    if incident_id not in index.sources:  # a bug, not a user error: the row was just read
        raise IndexError_(f"incident {incident_id} was not indexed; run `{vx.REBUILD}`")


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
