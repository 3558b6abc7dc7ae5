"""CONTRACT.md's signatures read off the evidence: the facts, and what changed around them.

`Signals` adds to `facts.Facts` the changes the timing and the structure implicate, each a
strength between 0 and 1: the deployment released as the degradation began (and not since
judged by healthy windows), the pipeline run that failed before it, the run whose source
changed what the features that moved look like. Notes are read for meaning (meaning.py) and
only ever add to or take away from a link that structure made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from agentops.agents.facts import Facts, clamp
from agentops.agents.meaning import Reading, read_note
from agentops.domain import Evidence

DEPLOY_AT_ONSET_H = 2.0  # a release this close before the onset is as good as at it
DEPLOY_STALE_H = 24.0  # ...and one this far before it, with no window between, says little


@dataclass(frozen=True)
class Change:
    """A deployment or a pipeline run as the signatures weigh it."""

    item: Evidence
    strength: float  # how strongly the timing (and for runs, the failure) implicates it
    features: tuple[str, ...] = ()  # affected features it is linked to
    reading: Reading = field(default_factory=Reading)

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def data(self) -> dict[str, Any]:
        return self.item.data


class Signals(Facts):
    # ---- changes ---------------------------------------------------------------------------
    @cached_property
    def deployment(self) -> Change | None:
        """The deployment the timing implicates most, if any: released before the first
        degraded window ended and not followed by a healthy window."""
        best: Change | None = None
        for item in self.deployments:
            data = item.data
            if data.get("after_onset") or data.get("healthy_since"):
                continue
            hours = float(data.get("hours_before_onset") or 0.0)
            if data.get("first_degraded_version") or hours <= DEPLOY_AT_ONSET_H:
                strength = 1.0
            else:
                strength = clamp(1 - (hours - DEPLOY_AT_ONSET_H) / DEPLOY_STALE_H)
            if strength and (best is None or strength > best.strength):
                best = Change(item, strength)
        return best

    @property
    def version_switch(self) -> float:
        """The metrics themselves show a new version in the first degraded window."""
        at, before = self.onset.get("version_at_onset"), self.onset.get("version_before")
        if at and before and at != before:
            return 1.0
        return 0.5 if self.metrics.get("model_version", {}).get("changed") else 0.0

    @property
    def deploy_implicated(self) -> float:
        found = self.deployment.strength if self.deployment else 0.0
        return max(found, self.version_switch if not self.deployments else 0.0)

    def _before_onset(self) -> list[Evidence]:
        return [r for r in self.runs if not r.data.get("after_onset")]

    @cached_property
    def failed_run(self) -> Change | None:
        """The run failure that can explain missing or stale data: failed, partial, or a
        success that wrote under half its usual rows. A failure retried with success before
        the onset counts a third, unless the nulls are still there (the retry did not mend)."""
        best: Change | None = None
        mended = self.null_strength < 0.25
        for item in self._before_onset():
            data = item.data
            rows, typical = data.get("rows_processed"), data.get("typical_rows")
            if data.get("status") in ("failed", "partial"):
                strength = 0.3 if data.get("retried_ok") and mended else 1.0
            elif rows is not None and typical and float(rows) < 0.5 * float(typical):
                strength = 0.7
            else:
                continue
            fed = tuple(sorted(self._features_of(item) & set(self.nulls)))
            change = Change(item, strength, fed)
            if best is None or (strength, len(fed)) > (best.strength, len(best.features)):
                best = change
        return best

    @property
    def pipeline_implicated(self) -> float:
        run = self.failed_run
        return run.strength * (0.5 + 0.5 * self.null_strength) if run else 0.0

    @cached_property
    def source_change(self) -> tuple[Change | None, float]:
        """(the run that changed what the model's inputs look like, how sure structure is).

        Structure links a run to the features that moved when its notes carry their names (or
        its pipeline's name does and its notes describe a change), and the link is as strong
        as the share of the movement
        (PSI-weighted) those features hold: a note naming two of five drifting features
        explains little. A note that denies a change to them (or only announces one) breaks
        the link. Schema or range errors in the features that moved are a format change
        whatever the notes say; they are pinned on the linked run, else on the run before
        the onset whose notes read as a change, else on the latest run before it."""
        linked: list[Change] = []
        candidates: list[Change] = []
        for item in self._before_onset():
            if item.data.get("status") == "failed":
                continue
            reading = read_note(item.data.get("notes") or "", written_at=item.data["started_at"])
            # a pipeline named after a feature feeds it every run: that names a source, not a
            # change, unless its notes say something changed
            by_name = set(item.data.get("features_in_name") or []) if reading.change > 0 else set()
            named = (set(item.data.get("features_in_notes") or []) | by_name) & self.affected
            said = {f: reading.change_about(f) for f in named}
            kept = tuple(sorted(f for f, value in said.items() if value >= 0))
            if kept:
                linked.append(Change(item, self.movement_share(kept), kept, reading))
            elif not named and reading.change >= 0:
                candidates.append(Change(item, 0.5, (), reading))
        # a linked run first, then the one whose notes read most as a change, the latest first
        ranked = sorted(
            [*linked, *candidates],
            key=lambda c: (
                not c.features,
                -c.strength,
                -c.reading.change,
                c.data.get("hours_before_onset", 0),
            ),
        )
        format_strength = max(
            (v for f, v in self.format_errors.items() if f in self.affected), default=0.0
        )
        link = max((c.strength for c in linked), default=0.0)
        if not (link or format_strength):
            return None, 0.0
        return (ranked[0] if ranked else None), max(link, format_strength)

    def movement_share(self, features: tuple[str, ...] | list[str]) -> float:
        """The share of the inputs' movement (PSI; a format error alone weighs as P3 drift)
        that sits in `features`."""

        def weight(feature: str) -> float:
            return self.drift.get(feature, self.limit("psi_p3"))

        total = sum(weight(f) for f in self.affected)
        return round(sum(weight(f) for f in features) / total, 3) if total else 0.0

    @property
    def upstream_implicated(self) -> float:
        run, strength = self.source_change
        if not strength:
            return 0.0
        corroborated = bool(self.format_errors) or (run is not None and run.reading.change > 0)
        return strength * (1.0 if corroborated else 0.7)

    def _features_of(self, item: Evidence) -> set[str]:
        data = item.data
        return set(data.get("features_in_notes") or []) | set(data.get("features_in_name") or [])
