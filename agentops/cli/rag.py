"""`agentops index build|search|similar` and `agentops eval retrieval`.

The retrieval stack (langchain-core, faiss, onnxruntime) is imported inside the commands:
importing it here would add ~1 s to every other `agentops` command's start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from agentops.cli.app import (
    JsonFlag,
    console,
    engine,
    err_console,
    eval_app,
    index_app,
    print_json,
    settings,
)
from agentops.cli.tables import table, whole, wrapped
from agentops.errors import DataError

if TYPE_CHECKING:
    import sqlalchemy as sa

KOption = Annotated[int, typer.Option("--k", min=1, max=20, help="how many results")]


def _has_incidents_table(eng: sa.Engine) -> bool:
    import sqlalchemy as sa

    from agentops.store.tables import incidents

    try:
        return sa.inspect(eng).has_table(incidents.name)
    except sa.exc.SQLAlchemyError:
        return False


@index_app.command("build")
def index_build(json_out: JsonFlag = False) -> None:
    """Rebuild the runbook index (and the past-incident index, when the store has
    INCIDENTS) from scratch. Fixes a corrupt index; searches rebuild a stale one themselves."""
    from agentops.rag import IncidentIndex, RunbookIndex

    cfg = settings()
    with err_console.status("embedding the runbooks…"):
        index = RunbookIndex.build(cfg)
    summary: dict[str, Any] = {
        "embeddings": index.embeddings.name,
        "runbooks": len(index.sources),
        "chunks": index.store.index.ntotal,
        "index_dir": str(index.directory),
        "incidents": None,
    }
    eng = engine(cfg)
    if _has_incidents_table(eng):
        with err_console.status("embedding past incidents…"):
            summary["incidents"] = len(IncidentIndex.build(eng, cfg).sources)
    if json_out:
        print_json(summary)
        return
    console.print(
        f"runbook index: {summary['runbooks']} runbooks, {summary['chunks']} chunks, "
        f"{summary['embeddings']} embeddings, in {summary['index_dir']}"
    )
    if summary["incidents"] is None:
        console.print("incident index: skipped (no INCIDENTS table; run `agentops db init`)")
    else:
        console.print(f"incident index: {summary['incidents']} past incidents")


@index_app.command("search")
def index_search(
    query: Annotated[str, typer.Argument(help="what to look up, in words")],
    k: KOption = 3,
    json_out: JsonFlag = False,
) -> None:
    """The runbook sections that best match QUERY."""
    from agentops.rag import RunbookIndex

    cfg = settings()
    with err_console.status("loading the runbook index…"):
        index = RunbookIndex.open(cfg)
    hits = index.search(query, k=k)
    if json_out:
        print_json([h.model_dump() for h in hits])
        return
    found = table(
        whole("score", justify="right"),
        whole("runbook"),
        wrapped("section"),
        wrapped("text"),
        rows_apart=True,
    )
    for hit in hits:
        body = hit.text.split("\n\n", 1)[-1]
        found.add_row(
            f"{hit.score:.3f}",
            escape(hit.runbook),
            escape(hit.section),
            escape(_first_words(body, 24)),
        )
    console.print(found)


@index_app.command("similar")
def index_similar(
    text: Annotated[str, typer.Argument(help="the symptoms or suspected cause, in words")],
    k: KOption = 3,
    json_out: JsonFlag = False,
) -> None:
    """Past incidents (INCIDENTS) most like TEXT, with why they match."""
    from agentops.rag import similar_incidents

    cfg = settings()
    eng = engine(cfg)
    if not _has_incidents_table(eng):
        raise DataError(
            "the store has no INCIDENTS table; run `agentops db init` or `agentops seed`"
        )
    with err_console.status("loading the incident index…"):
        hits = similar_incidents(eng, cfg, text, k=k)
    if json_out:
        print_json([h.model_dump() for h in hits])
        return
    if not hits:
        console.print("no past incident with a root cause or resolution in the store yet")
        return
    found = table(
        whole("score", justify="right"),
        whole("incident"),
        wrapped("why"),
        wrapped("root cause"),
        wrapped("resolution"),
        rows_apart=True,
    )
    for hit in hits:
        found.add_row(
            f"{hit.score:.3f}",
            escape(f"{hit.incident_id}\n{hit.root_cause_category or '?'}"),
            escape("\n".join(hit.why)),
            escape(hit.root_cause or ""),
            escape(hit.resolution or ""),
        )
    console.print(found)


@eval_app.command("retrieval")
def eval_retrieval(
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries", help="labelled queries YAML (default: evals/retrieval/queries.yaml)"
        ),
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="also write the figures to this JSON file")
    ] = None,
) -> None:
    """Recall@1, recall@3 and MRR of each embedding choice and of BM25 on labelled runbook
    queries, side by side, with query latency after load."""
    from agentops.rag.evaluate import evaluate_retrieval

    cfg = settings()
    with err_console.status("evaluating retrieval…") as status:
        report = evaluate_retrieval(cfg, queries, on_step=lambda step: status.update(step + "…"))
    # runbook and section figures on two lines of one row: nine columns do not fit 80
    rankers = table(
        whole("ranker"),
        whole("found"),
        whole("R@1", justify="right"),
        whole("R@3", justify="right"),
        whole("MRR", justify="right"),
        whole("p50 ms", justify="right"),
        whole("p99 ms", justify="right"),
        title=f"{report['queries']} queries ({report['section_labelled']} with a section), "
        f"{report['chunks']} chunks",
        rows_apart=True,
    )
    for row in report["results"]:
        rb, sec, lat = row["runbook"], row["section"], row["latency_ms"]
        rankers.add_row(
            escape(row["name"]),
            "runbook\nsection",
            *(f"{rb[name]:.3f}\n{sec[name]:.3f}" for name in ("recall@1", "recall@3", "mrr")),
            f"{lat['p50']:.1f}",
            f"{lat['p99']:.1f}",
        )
    console.print(rankers)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {json_file}")


def _first_words(text: str, n: int) -> str:
    parts = text.split()
    return " ".join(parts[:n]) + (" …" if len(parts) > n else "")
