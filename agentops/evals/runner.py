"""The eval runner: every case on a fresh store, with the case's clock and approvals, through
the whole incident lifecycle (`agentops.graph.runner.run_incident`), then scored.

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
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from agentops.cases import Case, load_case, read_case
from agentops.domain import ActionType, LLMUsage
from agentops.errors import AgentOpsError, DataError
from agentops.evals.score import CHECKS, score
from agentops.settings import Settings
from agentops.store import create_store_engine, init_schema

EVAL_APPROVER = "eval-bot"

Decide = Callable[[dict[str, Any]], dict[str, Any]]


class RunIncident(Protocol):
    def __call__(
        self,
        settings: Settings,
        *,
        now: datetime,
        model_name: str | None = None,
        decide: Decide | None = None,
    ) -> dict[str, Any]: ...


def default_run_incident() -> RunIncident:
    """The lead's graph runner, imported late so scoring works without the graph."""
    try:
        from agentops.graph.runner import run_incident
    except ImportError as exc:
        raise AgentOpsError(
            f"the incident graph is not available ({exc}); `agentops eval` needs "
            "agentops.graph.runner.run_incident"
        ) from None
    return run_incident


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


def decider(case: Case, approver: str = EVAL_APPROVER) -> Decide:
    """Answers each approval request as the case's `approvals:` block says."""

    def decide(payload: dict[str, Any]) -> dict[str, Any]:
        action = payload.get("action") or {}
        kind = ActionType(str(action.get("type")))
        decision = case.decision_for(kind)
        return {"decision": decision, "approver": approver, "comment": f"eval case {case.id}"}

    return decide


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
    run_incident: RunIncident,
    runbooks_dir: Path | None = None,
) -> CaseOutcome:
    home = root / case.id
    home.mkdir(parents=True)
    # every case reads the same runbooks: point its index at the run's shared one
    (home / "index").symlink_to(root / "shared-index", target_is_directory=True)
    started = time.perf_counter()
    try:
        settings = case_settings(home, model, runbooks_dir)
        engine = create_store_engine(settings.resolved_database_url)
        init_schema(engine)
        load_case(engine, case)
        engine.dispose()
        state = run_incident(settings, now=case.now, model_name=case.model, decide=decider(case))
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
    run_incident: RunIncident | None = None,
    runbooks_dir: Path | None = None,
    on_case: Callable[[CaseOutcome, int, int], None] | None = None,
) -> list[CaseOutcome]:
    """Run every case under `cases_dir`; `on_case(outcome, done, total)` reports progress."""
    folders = find_cases(cases_dir)
    cases = [read_case(p) for p in folders]  # parse all first: a bad file fails fast
    runner = run_incident or default_run_incident()
    outcomes: list[CaseOutcome] = []
    with suite_root() as root:
        for case in cases:
            outcome = run_case(
                case, root, model=model, run_incident=runner, runbooks_dir=runbooks_dir
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
