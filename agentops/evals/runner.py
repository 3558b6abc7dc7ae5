"""The eval runner: every case on a fresh store, with the case's clock and approvals, played
as scheduler passes (the first at `now`, then each `later` pass with the rows that arrived),
then scored.

Each case runs in its own temporary AGENTOPS_HOME with its own SQLite file; credentials and
the policy file are switched off there and the retrain/scale executors point at a stand-in
that only records the request, so an eval never sends a real message or triggers a real
retraining, and it scores the contract's default thresholds. The
runbook index is shared by all cases of one run (built once, not once per case).
"""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agentops.cases import Case, load_case, read_case
from agentops.domain import ActionType, LLMUsage
from agentops.errors import AgentOpsError, DataError
from agentops.evals.score import CHECKS, score
from agentops.settings import Settings
from agentops.store import Stores, open_monitoring
from agentops.store.load import load_tables

EVAL_APPROVER = "eval-bot"

Decide = Callable[[dict[str, Any]], dict[str, Any] | None]


class RunCase(Protocol):
    """Plays one case on a prepared home: its first pass and its `later` passes; returns
    the final state to score (see `play_case`)."""

    def __call__(self, settings: Settings, case: Case) -> dict[str, Any]: ...


@dataclass
class CaseOutcome:
    id: str
    tags: list[str]
    checks: dict[str, bool]
    seconds: float
    usage: LLMUsage = field(default_factory=LLMUsage)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(self.checks.values())

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "passed": self.passed,
            "checks": self.checks,
            "seconds": round(self.seconds, 3),
            "llm": self.usage.model_dump(),
        }
        if self.error:
            out["error"] = self.error
        return out


def find_cases(path: Path) -> list[Path]:
    """Case folders under `path` (or `path` itself when it holds a case.yaml), sorted."""
    if (path / "case.yaml").is_file() or path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"--cases: no such folder: {path}")
    found = sorted(p for p in path.iterdir() if (p / "case.yaml").is_file())
    if not found:
        raise DataError(f"--cases: no case folders (NNN_slug/case.yaml) under {path}")
    return found


# The executors' stand-in inside a case: it accepts the request (JSON on stdin) and appends it
# to a file in the case's home, so an approved retrain or scale "runs" without touching any
# real system, and the case scores the decision path rather than the missing configuration.
_STANDIN = (
    "import sys, pathlib; pathlib.Path(sys.argv[1]).open('a').write(sys.stdin.read() + chr(10))"
)


def standin_command(home: Path, action: str) -> str:
    target = home / f"standin-{action}.jsonl"
    return shlex.join([sys.executable, "-c", _STANDIN, str(target)])


def case_settings(home: Path, model: str | None, runbooks_dir: Path | None) -> Settings:
    """Settings for one isolated case run: its own home and store, nothing outside."""
    overrides: dict[str, object] = {
        "home": home,
        "database_url": None,
        "config_file": None,
        "approvers": EVAL_APPROVER,
        "slack_token": None,
        "github_token": None,
        "smtp_host": None,
        "retrain_command": standin_command(home, "retrain_model"),
        "retrain_webhook": None,
        "scale_command": standin_command(home, "scale_infrastructure"),
        "scale_webhook": None,
    }
    if model is not None:
        overrides["model"] = model
    if runbooks_dir is not None:
        overrides["runbooks_dir"] = runbooks_dir
    return Settings.load(**overrides)


def decider(case: Case) -> Decide:
    """Answers each approval request as the case's `approvals:` block says; `wait` leaves it
    unanswered (nobody answers)."""

    def decide(payload: dict[str, Any]) -> dict[str, Any] | None:
        action = payload.get("action") or {}
        kind = ActionType(str(action.get("type")))
        decision = case.decision_for(kind)
        if decision == "wait":
            return None
        return {"decision": decision, "comment": f"eval case {case.id}"}

    return decide


def play_case(settings: Settings, case: Case) -> dict[str, Any]:
    """The case's first pass at `now`, then each `later` pass with its rows, as a scheduler
    would run them; approvals answered by the eval approver (identity `eval`). Returns the
    state of the case's incident thread plus what scoring reads from the state store: the
    incident's status, escalations and handed-over actions over the whole run."""
    from agentops.graph.identity import Identity
    from agentops.graph.local import local_runtime

    with local_runtime(settings, "eval") as rt:
        scheduler = rt.scheduler(decide=decider(case), decider=Identity(EVAL_APPROVER, "eval"))
        passes = [(case.now, None), *((p.at, p.tables) for p in case.later)]
        errors: list[str] = []
        for clock, tables in passes:
            if tables:
                load_tables(rt.stores.monitoring, tables)
            errors += scheduler.run_pass(clock, case.model).errors
        if errors:
            raise AgentOpsError("; ".join(errors))
        return final_state(rt.stores, rt.graph)


def final_state(stores: Stores, graph: Any) -> dict[str, Any]:
    """The first incident's thread state, with its status and the ledger's escalations and
    handed-over actions (whole run) under `_status`, `_escalated`, `_executed`."""
    from agentops.graph.runner import snapshot
    from agentops.store import queries

    with stores.state.connect() as conn:
        rows = queries.list_incidents(conn, limit=1000)
        if not rows:
            return {"incident": None}
        row = min(rows, key=lambda r: (r["opened_at"], len(r["incident_id"]), r["incident_id"]))
        logged = queries.action_log_for(conn, row["incident_id"])
    state: dict[str, Any] = {}
    if row.get("thread_id"):
        state = dict(snapshot(graph, str(row["thread_id"])).state)
    incident = dict(state.get("incident") or {})
    incident.update(
        {
            "incident_id": row["incident_id"],
            "model_name": row["model_name"],
            "severity": row["severity"],
            "alert_types": [t for t in (row.get("alert_types") or "").split(",") if t],
            "status": row["status"],
        }
    )
    state["incident"] = incident
    state["_status"] = row["status"]
    state["_escalated"] = sorted(
        {
            a["target"]
            for a in logged
            if a["action_type"] == ActionType.escalate.value
            and a["status"] in {"succeeded", "queued"}
        }
    )
    state["_executed"] = sorted(
        {
            a["action_type"]
            for a in logged
            if ActionType(a["action_type"]).requires_approval
            and a["status"] in {"succeeded", "queued"}
        }
    )
    return state


@contextmanager
def suite_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="agentops-eval-") as tmp:
        root = Path(tmp)
        (root / "shared-index").mkdir()
        yield root


def run_case(
    case: Case,
    root: Path,
    *,
    model: str | None,
    run_case_fn: RunCase,
    runbooks_dir: Path | None = None,
) -> CaseOutcome:
    home = root / case.id
    home.mkdir(parents=True)
    # every case reads the same runbooks: point its index at the run's shared one
    (home / "index").symlink_to(root / "shared-index", target_is_directory=True)
    started = time.perf_counter()
    try:
        settings = case_settings(home, model, runbooks_dir)
        engine = open_monitoring(settings.resolved_database_url, create=True)
        load_case(engine, case)
        engine.dispose()
        state = run_case_fn(settings, case)
    except Exception as exc:  # one broken case is a failed case, not a stopped suite
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        kind = "error" if isinstance(exc, AgentOpsError) else "crash"
        checks = dict.fromkeys(score(case, {}), False)
        return CaseOutcome(
            case.id, case.tags, checks, time.perf_counter() - started, error=f"{kind}: {last}"
        )
    seconds = time.perf_counter() - started
    usage = state.get("llm_usage") or LLMUsage()
    if isinstance(usage, dict):
        usage = LLMUsage.model_validate(usage)
    return CaseOutcome(case.id, case.tags, score(case, state), seconds, usage)


def run_suite(
    cases_dir: Path,
    *,
    model: str | None = None,
    run_case_fn: RunCase | None = None,
    runbooks_dir: Path | None = None,
    on_case: Callable[[CaseOutcome, int, int], None] | None = None,
) -> list[CaseOutcome]:
    """Run every case under `cases_dir`; `on_case(outcome, done, total)` reports progress."""
    folders = find_cases(cases_dir)
    cases = [read_case(p) for p in folders]  # parse all first: a bad file fails fast
    runner = run_case_fn or play_case
    outcomes: list[CaseOutcome] = []
    with suite_root() as root:
        for case in cases:
            outcome = run_case(
                case, root, model=model, run_case_fn=runner, runbooks_dir=runbooks_dir
            )
            outcomes.append(outcome)
            if on_case is not None:
                on_case(outcome, len(outcomes), len(cases))
    return outcomes


def totals(outcomes: list[CaseOutcome]) -> dict[str, Any]:
    """Per check: passed / total over the cases that score it; plus cases, time, LLM use."""
    per_check: dict[str, dict[str, int]] = {}
    for name in CHECKS:
        scored = [o.checks[name] for o in outcomes if name in o.checks]
        if scored:
            per_check[name] = {"passed": sum(scored), "total": len(scored)}
    usage = sum((o.usage for o in outcomes), LLMUsage())
    passed = sum(o.passed for o in outcomes)
    return {
        "cases": {"passed": passed, "total": len(outcomes)},
        "checks": per_check,
        "pass_rate": round(passed / len(outcomes), 4) if outcomes else 0.0,
        "seconds": round(sum(o.seconds for o in outcomes), 3),
        "llm": usage.model_dump(),
    }


def report_json(outcomes: list[CaseOutcome]) -> dict[str, Any]:
    return {"cases": [o.as_json() for o in outcomes], "totals": totals(outcomes)}
