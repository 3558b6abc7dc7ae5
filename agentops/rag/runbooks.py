"""Runbooks: one Markdown format, read and validated, then cut into section chunks.

The format (every file in `runbooks/`):

    ---
    id: model_drift                 # the file stem
    title: Model drift
    applies_to:
      alert_types: [feature_drift, model_performance]   # CONTRACT.md alert types
      categories: [concept_drift, upstream_data_change]  # CONTRACT.md root-cause categories
    updated: 2026-11-01
    ---
    # Model drift
    ## Symptoms
    ## Checks
    ## Telling the causes apart
    ## Remediation
    ## Escalation
    ## Verification after the fix

Further `##` sections are allowed. A runbook that breaks the format is an error naming the
file and what to change, never a runbook silently left out of the index.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentops.domain import AlertType, RootCauseCategory
from agentops.errors import DataError
from agentops.settings import Settings

REQUIRED_SECTIONS: tuple[str, ...] = (
    "Symptoms",
    "Checks",
    "Telling the causes apart",
    "Remediation",
    "Escalation",
    "Verification after the fix",
)
# A chunk longer than this many words is split at paragraph breaks: MiniLM reads only its
# first 256 word pieces (~130 words of
# runbook prose, whose tables, code names and numbers cost several pieces each), so the tail of a longer chunk would be invisible.
MAX_CHUNK_WORDS = 110

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s")
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")


class AppliesTo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_types: list[AlertType] = Field(min_length=1)
    categories: list[RootCauseCategory] = Field(min_length=1)


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=1)
    applies_to: AppliesTo
    updated: date

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9_]+", value):
            raise ValueError("must be lower_snake_case, the file's stem")
        return value


class Section(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    body: str


class Runbook(BaseModel):
    model_config = ConfigDict(frozen=True)

    stem: str
    path: Path
    meta: FrontMatter
    sections: list[Section]
    text: str = Field(description="the whole file")

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def section(self, name: str) -> Section | None:
        wanted = name.strip().lower()
        return next((s for s in self.sections if s.name.lower() == wanted), None)


class Chunk(BaseModel):
    """What the index embeds: a section, part of a long one, or one list item or table row of
    it. `section_text` is the whole section, which a search returns whichever chunk matched."""

    model_config = ConfigDict(frozen=True)

    runbook: str
    section: str
    text: str = Field(description="'<title> — <section>' then the chunk's own text")
    section_text: str = Field(description="'<title> — <section>' then the whole section")


def _fail(path: Path, problem: str) -> DataError:
    return DataError(f"runbook {path}: {problem}")


def parse_runbook(path: Path, text: str) -> Runbook:
    """Validate one runbook's text; DataError naming the file and the fix if it is wrong."""
    if not text.strip():
        raise _fail(path, "the file is empty; write the runbook format (see runbooks/README.md)")
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise _fail(
            path,
            "no YAML front matter; start the file with a '---' block holding id, title, "
            "applies_to {alert_types, categories} and updated, closed by '---'",
        )
    try:
        raw = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise _fail(path, f"front matter is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise _fail(path, "front matter must be a mapping of id, title, applies_to, updated")
    try:
        meta = FrontMatter.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'front matter'}: {err['msg']}"
            for err in exc.errors()
        )
        raise _fail(path, f"front matter: {problems}") from None
    if meta.id != path.stem:
        raise _fail(path, f"front matter id {meta.id!r} must equal the file stem {path.stem!r}")
    sections = _sections(text[match.end() :])
    names = {s.name.lower() for s in sections}
    missing = [name for name in REQUIRED_SECTIONS if name.lower() not in names]
    if missing:
        raise _fail(path, f"missing section(s) {missing}; add them as '## <name>' headings")
    empty = [s.name for s in sections if not s.body.strip()]
    if empty:
        raise _fail(path, f"section(s) {empty} have no text; fill them in or remove them")
    return Runbook(stem=path.stem, path=path, meta=meta, sections=sections, text=text)


def _sections(body: str) -> list[Section]:
    """`##` sections in order; text before the first one (under the `#` title) becomes an
    'Overview' section when there is any. `###` headings stay inside their section, and
    headings inside code fences are text."""
    found: list[tuple[str, list[str]]] = [("Overview", [])]
    in_fence = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading and len(heading.group(1)) == 1:
            continue  # the document title; the front matter's title is authoritative
        if heading and len(heading.group(1)) == 2:
            found.append((heading.group(2).strip(), []))
            continue
        found[-1][1].append(line)
    sections = [Section(name=name, body="\n".join(lines).strip()) for name, lines in found]
    return sections[1:] if not sections[0].body else sections


def load_runbooks(directory: Path) -> list[Runbook]:
    """Every `*.md` runbook in `directory` (README.md excepted), sorted by stem."""
    if not directory.is_dir():
        raise DataError(
            f"runbooks folder {directory} does not exist; create it or set AGENTOPS_RUNBOOKS_DIR"
        )
    paths = sorted(p for p in directory.glob("*.md") if p.name.lower() != "readme.md")
    if not paths:
        raise DataError(f"no runbooks (*.md) in {directory}; add some or set AGENTOPS_RUNBOOKS_DIR")
    return [parse_runbook(p, p.read_text(encoding="utf-8")) for p in paths]


def chunk_runbook(runbook: Runbook, max_words: int = MAX_CHUNK_WORDS) -> list[Chunk]:
    """Chunks at two sizes, each starting with the runbook's title and the section's name:
    the section (in parts when long), and each of its list items and table rows on its own.
    A question usually asks about one item ('who gets emailed?'), which the whole section
    dilutes; measured on evals/retrieval, item chunks raised section recall@3 from 0.77 to
    0.86 and runbook recall@3 from 0.94 to 0.96 (see docs/retrieval.md)."""
    chunks: list[Chunk] = []
    for section in runbook.sections:
        prefix = f"{runbook.meta.title} — {section.name}"
        whole = f"{prefix}\n\n{section.body}"
        parts = _split(section.body, max_words)
        items = [item for p in _paragraphs(section.body) for item in _items(p, rows=True)]
        if len(items) < 2:
            items = []  # a section that is one item is already a chunk
        for text in [*parts, *(i for i in items if i not in parts)]:
            chunks.append(
                Chunk(
                    runbook=runbook.stem,
                    section=section.name,
                    text=f"{prefix}\n\n{text}",
                    section_text=whole,
                )
            )
    return chunks


def _paragraphs(body: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]


def _split(body: str, max_words: int) -> list[str]:
    """Parts of at most ~max_words words, cut at paragraph breaks, and inside a long
    paragraph at list items or table rows (a single long item stays whole)."""
    blocks: list[str] = []
    for paragraph in _paragraphs(body):
        if len(paragraph.split()) <= max_words:
            blocks.append(paragraph)
        else:
            blocks.extend(_items(paragraph, rows=False))
    parts: list[str] = []
    current: list[str] = []
    count = 0
    for block in blocks:
        n = len(block.split())
        if current and count + n > max_words:
            parts.append("\n\n".join(current))
            current, count = [], 0
        current.append(block)
        count += n
    if current:
        parts.append("\n\n".join(current))
    return parts


def _items(paragraph: str, *, rows: bool) -> list[str]:
    """A paragraph cut before each list item or table row; continuation lines stay with
    their item. With `rows`, only the items themselves, each table row under its header
    (the columns' names are half of a row's meaning); without, every piece in order."""
    lines = paragraph.splitlines()
    if lines and lines[0].lstrip().startswith("|"):
        header = lines[0]
        body = [ln for ln in lines[1:] if not re.fullmatch(r"[\s|:-]+", ln)]
        if rows:
            return [f"{header}\n{row}" for row in body]
        return [header, *body] if body else [header]
    pieces: list[list[str]] = []
    for line in lines:
        if _ITEM.match(line) or not pieces:
            pieces.append([line])
        else:
            pieces[-1].append(line)
    texts = ["\n".join(piece) for piece in pieces]
    if rows:
        return [t for t, piece in zip(texts, pieces, strict=True) if _ITEM.match(piece[0])]
    return texts


def runbook_text(settings: Settings, stem: str) -> str:
    """The full Markdown of runbook `stem` (e.g. 'rollback'), validated."""
    directory = settings.resolved_runbooks_dir
    path = directory / f"{stem}.md"
    if not re.fullmatch(r"[a-z0-9_]+", stem) or not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.md") if p.name.lower() != "readme.md")
        raise DataError(f"no runbook {stem!r} in {directory}; known runbooks: {known}")
    text = path.read_text(encoding="utf-8")
    parse_runbook(path, text)
    return text
