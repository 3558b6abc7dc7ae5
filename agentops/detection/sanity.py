"""Rows no monitoring job could produce are findings about the monitoring tables, not pages.

Loads through agentops are validated (`store.load`), but a team's own jobs write the tables
directly. A window whose f1 is -3, whose p99 is infinite, whose error rate is 7.5 or whose
numeric column holds text says the monitoring pipeline is broken — not that the model is: the
rules skip such a row (no alert from it) and report a `Finding` naming the table, the row and
the column, so a person fixes the job that wrote it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

RATES = frozenset({"f1", "precision", "recall", "error_rate", "null_rate", "out_of_range_rate"})
NON_NEGATIVE = frozenset(
    {"latency_p50_ms", "latency_p99_ms", "request_count", "row_count", "schema_errors", "psi"}
)
STATUS_WORDS = frozenset({"up", "degraded", "down"})


class Finding(BaseModel):
    """One impossible value in a monitoring table."""

    model_config = ConfigDict(frozen=True)

    table: str
    model_name: str
    feature_name: str | None = None
    window_end: datetime | str | None
    column: str
    value: str
    problem: str

    def describe(self) -> str:
        where = f"{self.table.upper()} {self.model_name}"
        if self.feature_name:
            where += f" {self.feature_name}"
        return f"{where} window ending {self.window_end}: {self.column} = {self.value} ({self.problem})"


def value_problem(column: str, value: Any) -> str | None:
    """Why `value` cannot be a real `column` value, or None."""
    if value is None:
        return None
    if column == "status":
        return None if value in STATUS_WORDS else "not one of up, degraded, down"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "not a number"
    if math.isnan(value) or math.isinf(value):
        return "not a finite number"
    if column in RATES and not 0.0 <= value <= 1.0:
        return "a rate outside 0..1"
    if column in NON_NEGATIVE and value < 0:
        return "negative"
    return None


def row_findings(table: str, row: dict[str, Any]) -> list[Finding]:
    """The impossible values of one row (empty when it can be trusted)."""
    out = []
    for column in (*RATES, *NON_NEGATIVE, "status"):
        if column not in row:
            continue
        problem = value_problem(column, row[column])
        if problem is not None:
            out.append(
                Finding(
                    table=table,
                    model_name=str(row.get("model_name")),
                    feature_name=row.get("feature_name"),
                    window_end=row.get("window_end"),
                    column=column,
                    value=repr(row[column]),
                    problem=problem,
                )
            )
    return out
