"""Is the diagnosis's confidence worth its number? Confidence against correctness.

A run is correct when its category check passed. Over a set of runs:
- Brier score: the mean of (confidence - correct)^2; 0 is perfect, always answering 0.5
  scores 0.25.
- Expected calibration error (ECE): runs are put in equal-width confidence bins; ECE is the
  run-weighted mean gap between a bin's mean confidence and its share of correct runs.
With a few dozen runs, five bins (0.2 wide) keep each bin populated enough to mean something.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

BINS = 5


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    confidence: float  # mean confidence of the runs in the bin
    accuracy: float  # share of them that were correct


@dataclass(frozen=True)
class Calibration:
    count: int
    brier: float
    ece: float
    bins: tuple[Bin, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "runs": self.count,
            "brier": self.brier,
            "ece": self.ece,
            "bins": [
                {
                    "range": [b.low, b.high],
                    "runs": b.count,
                    "confidence": b.confidence,
                    "accuracy": b.accuracy,
                }
                for b in self.bins
            ],
        }


def calibrate(pairs: Iterable[tuple[float, bool]], bins: int = BINS) -> Calibration:
    """Brier score, ECE and the per-bin table of (confidence, correct) pairs."""
    runs = [(min(max(float(c), 0.0), 1.0), bool(ok)) for c, ok in pairs]
    if not runs:
        return Calibration(0, 0.0, 0.0, ())
    brier = sum((c - ok) ** 2 for c, ok in runs) / len(runs)
    table = []
    ece = 0.0
    for i in range(bins):
        low, high = i / bins, (i + 1) / bins
        # the last bin is closed, so a confidence of exactly 1.0 has a bin
        inside = [(c, ok) for c, ok in runs if low <= c < high or (i == bins - 1 and c == high)]
        if not inside:
            table.append(Bin(low, high, 0, 0.0, 0.0))
            continue
        confidence = sum(c for c, _ in inside) / len(inside)
        accuracy = sum(ok for _, ok in inside) / len(inside)
        ece += len(inside) / len(runs) * abs(confidence - accuracy)
        table.append(Bin(low, high, len(inside), round(confidence, 3), round(accuracy, 3)))
    return Calibration(len(runs), round(brier, 4), round(ece, 4), tuple(table))


def diagnosis_confidence(state: dict[str, Any]) -> float | None:
    """The confidence of the diagnosis in a final graph state (a record or its JSON)."""
    diagnosis = state.get("diagnosis")
    if diagnosis is None:
        return None
    value = diagnosis.get("confidence") if isinstance(diagnosis, dict) else diagnosis.confidence
    return float(value) if value is not None else None
