"""Words and numbers every message shares: values printed so that rounding never hides a
breach, the one-line headline of a root cause, what fixed an incident, and the length budget
of each message kind.

Pure functions, no clock and no I/O; `formats.py` builds the messages from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agentops.actions.untrusted import quote
from agentops.domain import (
    ActionResult,
    ActionType,
    Diagnosis,
    EscalationTarget,
    Incident,
    RootCauseCategory,
)

HEADLINE_MAX = 90
NAME_LIMIT = 120  # a model or feature name from the tables, as a message shows it
NEUTRAL_TITLE = "Model Incident"  # a security incident's public title
RESTRICTED = "restricted to the security team"

# Each message kind's budget: (lines, characters) of the final text. A message that would
# run over is cut (`fit`), never sent longer: the details live in the thread replies, the
# ledger and `agentops incidents show`.
BUDGETS: dict[str, tuple[int, int]] = {
    "alert": (8, 500),
    "p3_notice": (4, 320),
    "finding": (4, 900),
    "reply": (8, 800),
    "plan": (10, 600),
    "escalation": (6, 600),
    "unreachable": (3, 400),
    "resolution": (6, 400),
    "storm_page": (14, 1200),
    "security_notice": (3, 300),
    "notices_root": (2, 200),
    "digest": (23, 2000),
    "fallback_email": (12, 1200),
}

ROLE_WORDS = {
    EscalationTarget.ml_team_lead: "ML team lead",
    EscalationTarget.engineering_manager: "engineering manager",
    EscalationTarget.data_engineering_lead: "data engineering lead",
    EscalationTarget.platform_engineering: "platform engineering",
    EscalationTarget.security_team: "security team",
}


def is_security(incident: Incident, diagnosis: Diagnosis | None = None) -> bool:
    """A security incident: its details go to the security team only."""
    category = diagnosis.category if diagnosis is not None else incident.root_cause_category
    return category is RootCauseCategory.adversarial


# ---- numbers ---------------------------------------------------------------------------------
def decimals(value: float, places: int) -> str:
    """`value` with at most `places` decimals, trailing zeros dropped: 0.45, 0.3, 2400; a
    small value that would round to 0 keeps two significant digits (0.0024)."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    if text in {"", "0", "-0"}:
        return f"{value:.2g}" if value else "0"
    return text


def number(value: float | str | None) -> str:
    """A value on its own, as the runbook writes them: 0.45, 0.3, 0.8, 2400."""
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return quote(value, NAME_LIMIT)
    return decimals(float(value), 2)


def _numeric(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def pair(value: float | str | None, threshold: float | str | None) -> tuple[str, str]:
    """A value and its threshold printed so the printed pair compares as the real one does:
    two decimals, more where rounding would make them look equal or flip them (PSI 0.3029
    against 0.3 prints "0.303", never "0.3")."""
    if not (_numeric(value) and _numeric(threshold)):
        return number(value), number(threshold)
    real, limit = float(value), float(threshold)  # type: ignore[arg-type]
    want = (real > limit) - (real < limit)
    for places in range(2, 7):
        shown, bound = decimals(real, places), decimals(limit, places)
        got = (float(shown) > float(bound)) - (float(shown) < float(bound))
        if got == want:
            return shown, bound
    return repr(real), repr(limit)


# ---- headline --------------------------------------------------------------------------------
_ASIDE = re.compile(r"\s+\([^()]*\)")


def _without_asides(text: str) -> str:
    """The text without its parenthesised asides (innermost first), on one line."""
    flat = " ".join(text.split())
    while True:
        shorter = _ASIDE.sub("", flat)
        if shorter == flat:
            return re.sub(r"\s+([;,.:])", r"\1", flat)
        flat = shorter


def cut(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters, cut at a word with "…"."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head = flat[: limit - 1]
    if " " in head[limit // 2 :]:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:—-") + "…"


def headline(root_cause: str, limit: int = HEADLINE_MAX) -> str:
    """One line that names the cause: the root cause without its asides, as many of its
    leading clauses as fit in `limit` characters (a reference to a past incident is detail,
    not headline)."""
    text = _without_asides(root_cause)
    clauses = [c.strip(" .") for c in re.split(r";\s+|\.\s+(?=[A-Z])", text) if c.strip(" .")]
    kept = [c for c in clauses if not c.lower().startswith("as in ")] or clauses
    out = ""
    for clause in kept:
        candidate = f"{out}; {clause}" if out else clause
        if len(candidate) > limit:
            break
        out = candidate
    return out or _shorten(kept[0] if kept else text, limit)


# Where a clause can end without losing its subject and verb: before a trailing phrase.
_PHRASE = re.compile(r" (?:from|while|after|because|with|since|as) ")


def _shorten(clause: str, limit: int) -> str:
    """One clause in `limit` characters: its leading comma-separated parts that fit, else up
    to the last trailing phrase that fits, else cut at a word."""
    out = ""
    for part in clause.split(", "):
        candidate = f"{out}, {part}" if out else part
        if len(candidate) > limit:
            break
        out = candidate
    if out:
        return out
    ends = [m.start() for m in _PHRASE.finditer(clause) if limit // 3 <= m.start() <= limit]
    return clause[: ends[-1]] if ends else cut(clause, limit)


def headline_of(diagnosis: Diagnosis | None, root_cause: str | None = None) -> str:
    """The one-line root cause: the diagnosis's own headline when it has one, else the rules'
    shortening of its root cause (or of `root_cause`)."""
    if diagnosis is not None and diagnosis.headline.strip():
        return cut(diagnosis.headline, 90)
    text = diagnosis.root_cause if diagnosis is not None else root_cause
    return headline(text) if text else "not determined"


# ---- what fixed it ---------------------------------------------------------------------------
def _version_change(params: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    before = data.get("from_version") or params.get("from_version")
    after = data.get("to_version") or params.get("to_version")
    if before and after:
        return f"{before} → {after}"
    return f"to {after}" if after else "to the previous version"


# A retraining job's status (RETRAIN_JOBS) in words: only a promoted candidate changed the model.
JOB_WORDS = {
    "waiting": "Retraining waits for the upstream fix",
    "starting": "Retraining starting",
    "triggered": "Retraining triggered",
    "recorded": "Retraining recorded for a person to run",
    "deciding": "Retrained; the promotion gate is deciding",
    "promoted": "Retrained and promoted",
    "refused": "Retrained, but the promotion gate refused the candidate",
    "failed": "Retraining failed",
}


def remedy_words(
    results: Sequence[ActionResult], data: Mapping[str, Mapping[str, Any]] | None = None
) -> list[str]:
    """What the approval-required actions did, in words: "Rolled back 2.4.0 → 2.3.0",
    "Retraining job retrain-INC-1 queued", "Rollback rejected by dana". `data` holds each
    ledger entry's outcome data by its key (versions, the job)."""
    data = data or {}
    words: list[str] = []
    for result in results:
        action = result.action
        if not action.requires_approval:
            continue
        outcome = data.get(result.idempotency_key) or {}
        name = {
            ActionType.rollback_model: "Rollback",
            ActionType.retrain_model: "Retraining",
            ActionType.scale_infrastructure: "Scale-out",
        }[action.type]
        if result.status == "rejected":
            words.append(
                f"{name} rejected" + (f" by {result.approved_by}" if result.approved_by else "")
            )
        elif result.status == "failed":
            words.append(f"{name} failed")
        elif result.status == "skipped":
            words.append(f"{name} not run")
        elif action.type is ActionType.rollback_model:
            words.append(f"Rolled back {_version_change(action.params, outcome)}")
        elif action.type is ActionType.retrain_model:
            job = outcome.get("job") or {}
            job = job if isinstance(job, Mapping) else {}
            word = JOB_WORDS.get(str(job.get("status")), "Retraining queued")
            words.append(word + (f" (job {job['job_id']})" if job.get("job_id") else ""))
        else:
            direction = action.params.get("direction") or "up"
            words.append(f"Scaled {action.params.get('component') or 'serving'} {direction}")
    return words


def handed_to(results: Sequence[ActionResult]) -> list[str]:
    """The roles people were told to act (escalations that went out), in words."""
    targets: list[str] = []
    for result in results:
        if result.action.type is not ActionType.escalate:
            continue
        if result.status not in {"succeeded", "queued"}:
            continue
        target = result.action.target
        word = ROLE_WORDS.get(EscalationTarget(target)) if target in ROLE_WORDS else target
        if word and word not in targets:
            targets.append(word)
    return targets


def recovery_words(readings: Sequence[tuple[str, float, float | None]], windows: int) -> str:
    """ "F1 0.86 for 2 windows": the recovered conditions' worst healthy values (label, value,
    threshold) over the windows that confirmed the recovery."""
    if not readings or windows <= 0:
        return ""
    shown = []
    for label, value, threshold in readings[:2]:
        text = pair(value, threshold)[0] if threshold is not None else number(value)
        shown.append(f"{label} {text}")
    more = f" (+{len(readings) - 2} more)" if len(readings) > 2 else ""
    return f"{', '.join(shown)}{more} for {windows} window{'s' if windows != 1 else ''}"


# ---- budgets ---------------------------------------------------------------------------------
def fit(text: str, kind: str) -> str:
    """`text` within its kind's budget: lines beyond the limit are dropped from the middle
    (the first and the last line stay), then the longest line is shortened until the whole
    fits."""
    max_lines, max_chars = BUDGETS[kind]
    lines = text.split("\n")
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[-1]]
    while len("\n".join(lines)) > max_chars:
        longest = max(range(len(lines)), key=lambda i: len(lines[i]))
        over = len("\n".join(lines)) - max_chars
        target = max(len(lines[longest]) - over, 12)
        if target >= len(lines[longest]):
            lines.pop(longest)  # nothing left to shorten on it
            continue
        lines[longest] = cut(lines[longest], target)
    return "\n".join(lines)
