"""Detection: the runbook's thresholds over the monitoring tables, dedup and grouping into
incidents, and the PSI drift engine. Pure functions plus SQL pushed down to the store."""

from agentops.detection.dedup import Detection, IncidentChange, detect_incidents
from agentops.detection.rules import evaluate_rules, sort_alerts
from agentops.detection.thresholds import (
    Thresholds,
    ThresholdSet,
    load_threshold_set,
    load_thresholds,
    parse_threshold_section,
)

__all__ = [
    "Detection",
    "IncidentChange",
    "ThresholdSet",
    "Thresholds",
    "detect_incidents",
    "evaluate_rules",
    "load_threshold_set",
    "load_thresholds",
    "parse_threshold_section",
    "sort_alerts",
]
