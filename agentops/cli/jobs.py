"""`agentops retrain-result JOB --file result.json`: a retraining job reports its result.

A trainer that runs longer than its trigger (a command that only submits the job, a webhook
that answers at once) reports back with this command when it is done; its JSON is the same
one a command may print on stdout (see `agentops.actions.jobs.JobResult`):

    {"status": "succeeded", "candidate_version": "2.4.0", "holdout": "2026-11-13..19",
     "candidate": {"f1": 0.91, "recall": 0.88}, "current": {"f1": 0.84, "recall": 0.80}}

The promotion gate then promotes the candidate through the model registry, or refuses it
and tells the ML team lead. A second report for a decided job changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from agentops.cli.app import JsonFlag, NowOption, app, console, print_json, resolve_now, settings
from agentops.errors import DataError


@app.command("retrain-result")
def retrain_result(
    job: Annotated[str, typer.Argument(help="the job id, e.g. retrain-INC-2026-1120-1")],
    file: Annotated[str, typer.Option("--file", help="the result JSON ('-' reads standard input)")],
    now: NowOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Record a retraining job's result: the promotion gate promotes the candidate if its
    F1 and recall are at least the current model's on the same holdout, else escalates."""
    from agentops.actions.jobs import read_result, record_result
    from agentops.store import Stores, open_monitoring, open_state

    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"--file {file}: not JSON: {exc}") from None
    result = read_result(raw)
    cfg = settings()
    stores = Stores(
        monitoring=open_monitoring(cfg.resolved_database_url),
        state=open_state(cfg.resolved_state_url),
    )
    try:
        report = record_result(stores, cfg, job, result, now=resolve_now(now), via="cli")
    finally:
        stores.dispose()
    if json_out:
        print_json(
            {
                "job_id": report.job_id,
                "incident_id": report.incident_id,
                "status": report.status,
                "detail": report.detail,
            }
        )
    else:
        console.print(f"{report.job_id}: {report.status} — {report.detail}", markup=False)
