"""The evaluation suite: scenario cases scored against the graph's final state, replay of
past incidents, and export of resolved incidents as new cases.

    score(case, final_state) -> dict[str, bool]
    run_suite(cases_dir, model=None, run_incident=None, on_case=None) -> list[CaseOutcome]
    replay_incident(settings, engine, incident_id) -> list[Difference]
    export_case(engine, incident_id, out_dir, number=N) -> Path
    variants(case) -> list[Variant]                      perturbed copies of a case
    run_perturbed(cases_dir, ...) -> PerturbReport       cases and variants; flips
    calibrate(pairs) -> Calibration                      Brier score and ECE of confidence
"""

from agentops.evals.calibration import Calibration, calibrate
from agentops.evals.export import export_case, next_case_number, slice_incident
from agentops.evals.flips import PerturbReport, run_perturbed
from agentops.evals.perturb import Variant, variants
from agentops.evals.replay import Difference, replay_incident
from agentops.evals.runner import CaseOutcome, report_json, run_case, run_suite, totals
from agentops.evals.score import CHECKS, score

__all__ = [
    "CHECKS",
    "Calibration",
    "CaseOutcome",
    "Difference",
    "PerturbReport",
    "Variant",
    "calibrate",
    "export_case",
    "next_case_number",
    "replay_incident",
    "report_json",
    "run_case",
    "run_perturbed",
    "run_suite",
    "score",
    "slice_incident",
    "totals",
    "variants",
]
