"""Flips: each eval case and its generated variants (perturb.py) through the eval runner.

A flip is a variant whose run differs from its case's own run in what a responder would
notice: whether an incident opened, its root-cause category, or the planned actions
(type and target). The expectation is none. The same runs give calibration pairs:
(the diagnosis's confidence, whether its category is the one the case expects).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentops.cases import Case, read_case
from agentops.evals import runner
from agentops.evals.perturb import Variant, variants
from agentops.evals.runner import CaseOutcome, RunCase, find_cases, run_case, suite_root
from agentops.evals.score import root_cause_category
from agentops.settings import Settings


@dataclass(frozen=True)
class Verdict:
    """What a run decided, as a flip compares it: incident, category and the plan's actions."""

    incident: bool
    category: str | None
    actions: tuple[tuple[str, str], ...]
    confidence: float | None

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Verdict:
        plan = state.get("action_plan") or {}
        actions = plan.get("actions", []) if isinstance(plan, dict) else plan.actions
        pairs = sorted({(_word(_get(a, "type")), _word(_get(a, "target"))) for a in actions or []})
        confidence = _get(state.get("diagnosis"), "confidence")
        return cls(
            incident=state.get("incident") is not None,
            category=root_cause_category(state),
            actions=tuple(pairs),
            confidence=float(confidence) if confidence is not None else None,
        )

    def same_as(self, other: Verdict) -> bool:
        return (self.incident, self.category, self.actions) == (
            other.incident,
            other.category,
            other.actions,
        )


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _word(value: Any) -> str:
    """An enum or its string value, as the plain word."""
    return str(getattr(value, "value", value))


@dataclass
class PerturbReport:
    cases: dict[str, Case] = field(default_factory=dict)
    originals: dict[str, Verdict] = field(default_factory=dict)
    outcomes: dict[str, CaseOutcome] = field(default_factory=dict)
    variants: list[tuple[Variant, Verdict]] = field(default_factory=list)

    @property
    def flips(self) -> list[tuple[Variant, Verdict]]:
        return [(v, got) for v, got in self.variants if not got.same_as(self.originals[v.base_id])]

    @property
    def flip_rate(self) -> float:
        return len(self.flips) / len(self.variants) if self.variants else 0.0

    def calibration_pairs(self) -> list[tuple[float, bool]]:
        """(confidence, category correct) for every run, original or variant, whose case
        expects a category."""
        pairs = []
        runs = [(case_id, v) for case_id, v in self.originals.items()]
        runs += [(variant.base_id, got) for variant, got in self.variants]
        for case_id, verdict in runs:
            expect = self.cases[case_id].expect.root_cause
            if expect is None or expect.category is None or verdict.confidence is None:
                continue
            pairs.append((verdict.confidence, verdict.category == expect.category.value))
        return pairs

    def per_kind(self) -> dict[str, tuple[int, int]]:
        """kind -> (flips, variants)."""
        out: dict[str, tuple[int, int]] = {}
        flipped = {id(v) for v, _ in self.flips}
        for variant, _ in self.variants:
            flips, total = out.get(variant.kind, (0, 0))
            out[variant.kind] = (flips + (id(variant) in flipped), total + 1)
        return out


def run_perturbed(
    cases_dir: Path,
    *,
    model: str | None = None,
    runbooks_dir: Path | None = None,
    kinds: list[str] | None = None,
    on_case: Callable[[str, int, int], None] | None = None,
    play: RunCase | None = None,
) -> PerturbReport:
    """Every case under `cases_dir` and each of its variants through the eval runner (one
    fresh store each, as `agentops eval` runs them); flips are counted against the case's own
    run, so a case that fails its expectations still counts only the variants that differ.
    `play` runs one case (default: the runner's `play_case`, the whole lifecycle, as
    `agentops eval` does)."""
    cases = [read_case(p) for p in find_cases(cases_dir)]
    report = PerturbReport(cases={c.id: c for c in cases})
    states: dict[str, dict[str, Any]] = {}

    def capture(settings: Settings, case: Case) -> dict[str, Any]:
        state = (play or runner.play_case)(settings, case)
        states[case.id] = state
        return state

    jobs: list[tuple[Case, Variant | None]] = [(case, None) for case in cases]
    jobs += [(v.case, v) for case in cases for v in variants(case, kinds)]
    with suite_root() as root:
        for done, (case, variant) in enumerate(jobs, start=1):
            outcome = run_case(
                case, root, model=model, run_case_fn=capture, runbooks_dir=runbooks_dir
            )
            verdict = Verdict.from_state(states.pop(case.id, {}))
            if variant is None:
                report.originals[case.id] = verdict
                report.outcomes[case.id] = outcome
            else:
                report.variants.append((variant, verdict))
            if on_case is not None:
                on_case(case.id, done, len(jobs))
    return report
