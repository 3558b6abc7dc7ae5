"""The optional YAML policy file (AGENTOPS_CONFIG, else $AGENTOPS_HOME/config.yaml).

It holds structured policy that does not fit an environment variable: thresholds per model,
the escalation matrix, SLA timers, channels and contacts. Each section is parsed by the
module that owns it (`detection.thresholds`, `actions.policy`); this module only reads the
file once and rejects sections nobody owns, so a typo is an error and not a silent default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agentops.errors import ConfigError
from agentops.settings import Settings

SECTIONS = (
    "thresholds",
    "escalation",
    "sla",
    "channels",
    "contacts",
    "roles",
    "approvers",
    "auth",
)


def read_config_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"AGENTOPS_CONFIG: cannot read {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"AGENTOPS_CONFIG: {path}: expected a mapping of sections")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"AGENTOPS_CONFIG: {path}: unknown section(s) {unknown}; known: {list(SECTIONS)}"
        )
    return raw


def load_config(settings: Settings) -> dict[str, Any]:
    """The policy file's sections, or {} when there is none."""
    return read_config_file(settings.resolved_config_file)
