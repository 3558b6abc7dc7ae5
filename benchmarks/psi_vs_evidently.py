"""PSI for 30 features x 1,000,000 reference x 1,000,000 current rows: agentops vs Evidently.

Run with the bench extra (evidently needs pandas<3):  make bench
    .venv-bench/bin/python benchmarks/psi_vs_evidently.py [--rows N] [--features F]

Prints, on the same data in the same run:
- agentops `compute_psi` (reference-quantile bins, 10 bins), and split into its two halves:
  preparing the reference bins (once per reference) and scoring a window against them (what
  an hourly `drift compute` against a fixed reference repeats);
- Evidently's `Report([DataDriftPreset(method="psi")])`, what a user of Evidently runs;
- Evidently's PSI function alone (`legacy...stattests.psi._psi`), without the report around it;
- equal bins: agentops on Evidently's own bins (Sturges edges over both samples, the same
  binning work `_psi` does) against `_psi`, so the ratio compares like with like;
- where Evidently's Report spends its time (cProfile): the share in `_psi`, and the share of
  `_psi` spent deciding column types rather than counting;
- agentops' compute_psi (features on a thread pool once the samples are large) next to one
  feature at a time (numpy's sort holds the GIL for part of the work, so this is measured,
  not assumed);
- agreement: agentops' PSI computed on Evidently's own bins next to Evidently's value,
  feature by feature. Where a bin is empty the two differ only by
  their epsilon rules (agentops floors shares at 1e-4; Evidently fills zeros its own way), so
  those features are counted apart.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from agentops.detection.psi import (
    bin_counts,
    compute_psi,
    numeric_psi,
    profile_reference,
    psi_against,
)


def make_data(rows: int, features: int, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref, cur = {}, {}
    for i in range(features):
        name = f"f{i:02d}"
        ref[name] = rng.normal(0.0, 1.0, rows)
        # a third of the features drift by growing amounts; the rest stay put
        shift = 0.05 * (i % 10) if i % 3 == 0 else 0.0
        cur[name] = rng.normal(shift, 1.0 + shift / 2, rows)
    return pd.DataFrame(ref), pd.DataFrame(cur)


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<44} {seconds:8.2f} s")
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=30)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from evidently import DataDefinition, Dataset, Report
    from evidently.legacy.calculations.stattests.psi import _psi
    from evidently.legacy.core import ColumnType
    from evidently.presets import DataDriftPreset

    ref_df, cur_df = make_data(args.rows, args.features)
    cols = list(ref_df.columns)
    ref_np = {c: ref_df[c].to_numpy() for c in cols}
    cur_np = {c: cur_df[c].to_numpy() for c in cols}
    print(f"PSI, {args.features} features x {args.rows:,} reference x {args.rows:,} current rows")

    ours, t_ours = timed(
        "agentops compute_psi (10 quantile bins)", lambda: compute_psi(ref_np, cur_np)
    )

    profiles, _ = timed(
        "  of which: reference bins, prepared once",
        lambda: [profile_reference(c, ref_np[c]) for c in cols],
    )
    _, t_window = timed(
        "  then: one current window vs the profiles",
        lambda: [psi_against(p, cur_np[p.feature]) for p in profiles],
    )
    definition = DataDefinition(numerical_columns=cols)

    def evidently_report() -> object:
        report = Report([DataDriftPreset(method="psi")])
        return report.run(
            Dataset.from_pandas(cur_df, data_definition=definition),
            Dataset.from_pandas(ref_df, data_definition=definition),
        )

    _, t_report = timed("Evidently Report(DataDriftPreset(psi))", evidently_report)
    theirs, t_core = timed(
        "Evidently PSI function alone (_psi)",
        lambda: {c: float(_psi(ref_df[c], cur_df[c], ColumnType.Numerical, 0.1)[0]) for c in cols},
    )

    def sturges(c: str) -> np.ndarray:
        return np.histogram_bin_edges(np.concatenate([ref_np[c], cur_np[c]]), bins="sturges")

    _, t_equal = timed(
        "agentops on Evidently's bins (Sturges, both)",
        lambda: [numeric_psi(c, ref_np[c], cur_np[c], edges=sturges(c)[1:-1]) for c in cols],
    )
    _, t_serial = timed(
        "agentops, one feature at a time",
        lambda: [numeric_psi(c, ref_np[c], cur_np[c]) for c in cols],
    )

    profiler = cProfile.Profile()
    profiler.enable()
    evidently_report()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    in_psi = _outermost(stats, lambda file, name: name == "_psi")
    # inside _psi: counting distinct values to decide how to bin, before any binning
    deciding = _edge(stats, "nunique", "get_binned_data")
    charts = _outermost(stats, lambda file, name: file.endswith("utils/visualizations.py"))
    plotly = _outermost(stats, lambda file, name: "plotly" in file)

    same, empty, worst = 0, 0, 0.0
    for c in cols:
        edges = np.histogram_bin_edges(np.concatenate([ref_np[c], cur_np[c]]), bins="sturges")
        inner = edges[1:-1]
        if (bin_counts(ref_np[c], inner) == 0).any() or (bin_counts(cur_np[c], inner) == 0).any():
            empty += 1
            continue
        mine = numeric_psi(c, ref_np[c], cur_np[c], edges=inner).psi
        worst = max(worst, abs(mine - theirs[c]))
        same += 1
    print()
    print(f"  speed-up vs Evidently report:        {t_report / t_ours:8.1f}x")
    print(f"  speed-up vs Evidently PSI function:  {t_core / t_ours:8.1f}x")
    print(f"  ... per window, reference prepared:  {t_core / t_window:8.1f}x")
    print(f"  equal bins (Sturges) vs _psi:         {t_core / t_equal:8.1f}x")
    print(f"  compute_psi's pool vs one at a time:  {t_serial / t_ours:8.2f}x")
    print()
    print("  Evidently's Report, profiled once (shares of its time):")
    print(f"    _psi, the PSI test itself:           {in_psi / total:8.0%}")
    print(f"      of which deciding how to bin:      {deciding / total:8.0%}  (nunique per column)")
    print(f"    histograms for the report's charts:  {charts / total:8.0%}")
    print(f"    building plotly figures:             {plotly / total:8.0%}")
    print(
        f"  agreement on Evidently's own bins:   {same} features, max |difference| = "
        f"{worst:.2e} ({empty} features with an empty bin left out: epsilon rules differ)"
    )
    top = sorted(ours, key=lambda r: -r.psi)[:3]
    print(
        "  most drifted (agentops, quantile bins): "
        + ", ".join(f"{r.feature}={r.psi:.3f}" for r in top)
    )


def _outermost(stats: pstats.Stats, match: Callable[[str, str], bool]) -> float:
    """Cumulative seconds in the functions `match(file, name)` selects, counting only calls
    from outside the selection (so nested calls are not counted twice)."""
    seconds = 0.0
    for (file, _line, name), (_cc, _nc, _tt, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if not match(file, name):
            continue
        for (cfile, _cline, cname), edge in callers.items():
            if not match(cfile, cname):
                seconds += edge[3]
    return seconds


def _edge(stats: pstats.Stats, callee: str, caller: str) -> float:
    """Cumulative seconds `caller` spent in calls to `callee`."""
    seconds = 0.0
    for (_file, _line, name), (_cc, _nc, _tt, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if name == callee:
            seconds += sum(e[3] for (_f, _l, cname), e in callers.items() if cname == caller)
    return seconds


if __name__ == "__main__":
    main()
