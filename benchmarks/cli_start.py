"""How fast `agentops` starts when it has nothing heavy to do.

    .venv/bin/python benchmarks/cli_start.py [--runs 15]

Times, side by side (the median wall time of N child processes each):

- `python -c pass`: the interpreter's own start, the floor;
- `agentops --help` and `agentops run --help`: the command tree, no store, no graph;
- `python -c "import agentops.cli"`: the import alone, without rendering the help.

The target (issue 15) is `agentops --help` within 10x of `python -c pass`. The figures move
with the machine's load: compare the ratios of one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_RATIO = 10.0
AGENTOPS = Path(sys.executable).with_name("agentops")


def _command(*args: str) -> list[str]:
    """`agentops ARGS` through its console script when installed, else `python -m agentops`."""
    if AGENTOPS.exists():
        return [str(AGENTOPS), *args]
    return [sys.executable, "-m", "agentops", *args]


CASES: tuple[tuple[str, list[str]], ...] = (
    ("python -c pass", [sys.executable, "-c", "pass"]),
    ("agentops --help", _command("--help")),
    ("agentops run --help", _command("run", "--help")),
    ("import agentops.cli", [sys.executable, "-c", "import agentops.cli"]),
)


def median_seconds(argv: list[str], runs: int) -> float:
    env = {**os.environ, "COLUMNS": "100"}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="processes per command")
    runs = parser.parse_args().runs
    for _, argv in CASES:  # warm the file cache and the bytecode first
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    figures = {name: median_seconds(argv, runs) for name, argv in CASES}
    floor = figures["python -c pass"]
    print(f"median of {runs} runs each")
    print(f"{'command':<22} {'seconds':>8} {'x python':>9}")
    for name, seconds in figures.items():
        print(f"{name:<22} {seconds:>8.3f} {seconds / floor:>9.1f}")
    ratio = figures["agentops --help"] / floor
    verdict = "within" if ratio <= TARGET_RATIO else "over"
    print(
        f"`agentops --help` is {ratio:.1f}x `python -c pass`: {verdict} the {TARGET_RATIO:.0f}x target"
    )


if __name__ == "__main__":
    main()
