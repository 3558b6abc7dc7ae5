"""The plan's floor: what severity and the runbook require, whatever a model proposes.

The baseline is the rules' plan for the accepted diagnosis (`remedies.plan_by_rules`): for a
P1/P2 the #ml-alerts notice, log_metrics, the GitHub issue, the matrix's escalations for the
category and the category's remedy. A model may add to it, order steps within a priority
group, and word its reasons; it cannot remove a baseline step. Code keeps CONTRACT.md action
types only, sets every target itself (channels from settings, the incident's model, the
escalation matrix), takes approval-required parameters from the evidence, and writes every
action's reason; the model's words are kept as data in the plan's credit. Everything code
drops or changes is recorded with the reason. Whether an action needs approval is a
property of its type (`ActionType.requires_approval`): no field of a proposal can change it.
"""

from __future__ import annotations

import json
from typing import Any

from agentops.actions.untrusted import quote
from agentops.agents.policy import ESCALATIONS, PRIORITY_BASE, refusal
from agentops.agents.remedies import channels, plan_by_rules
from agentops.domain import (
    Action,
    ActionPlan,
    ActionType,
    ChangedAction,
    Diagnosis,
    DroppedAction,
    EscalationTarget,
    Evidence,
    Incident,
    PlanCredit,
)
from agentops.settings import Settings

A = ActionType
# Keys of a proposed action code reads; any other key (`requires_approval`, `approved`, ...)
# is recorded as ignored.
READ_KEYS = {"type", "target", "reason"}


def validate_plan(
    incident: Incident,
    diagnosis: Diagnosis,
    proposed: list[Any],
    *,
    evidence: list[Evidence] | None = None,
    settings: Settings | None = None,
    by: str = "model",
) -> ActionPlan:
    """The plan code accepts from a proposal: the baseline, plus what the proposal may add;
    see the module docstring. `by` names the proposer in the plan's `planned_by`."""
    baseline = plan_by_rules(incident, diagnosis, evidence=evidence, settings=settings)
    required = {(a.type, a.target): a for a in baseline.actions}
    alerts_channel, data_channel = channels(settings)
    kept: list[Action] = []
    credit: dict[tuple[ActionType, str], PlanCredit] = {}
    dropped: list[DroppedAction] = []
    changed: list[ChangedAction] = []

    for item in proposed:
        label = _label(item)
        if not isinstance(item, dict):
            dropped.append(DroppedAction(proposed=label, reason="not an action object"))
            continue
        try:
            kind = ActionType(str(item.get("type", "")).strip())
        except ValueError:
            allowed = ", ".join(a.value for a in A)
            dropped.append(
                DroppedAction(proposed=label, reason=f"unknown action type (allowed: {allowed})")
            )
            continue
        why = refusal(diagnosis.category, kind)
        if why is not None:
            dropped.append(DroppedAction(proposed=label, reason=why))
            continue
        asked = str(item.get("target") or "").strip()
        target, why = _target(kind, asked, incident, diagnosis, alerts_channel, data_channel)
        if target is None:
            dropped.append(DroppedAction(proposed=label, reason=why))
            continue
        if (kind, target) in credit:
            dropped.append(DroppedAction(proposed=label, reason="duplicate of an earlier action"))
            continue
        changed += _changes(item, kind, asked, target, why, label)
        base = required.get((kind, target))
        kept.append(base or _added(kind, target, diagnosis))
        credit[(kind, target)] = PlanCredit(
            action=f"{kind.value} → {target}",
            source="baseline+model" if base is not None else "model",
            model_reason=quote(str(item.get("reason") or ""), 200),
        )
    for (kind, target), step in required.items():
        if (kind, target) not in credit:
            kept.append(step)
            credit[(kind, target)] = PlanCredit(
                action=f"{kind.value} → {target}", source="baseline"
            )
    actions = _prioritised(kept, data_channel)
    ordered = [credit[(a.type, a.target)] for a in actions]
    return ActionPlan(
        actions=actions,
        dropped=dropped,
        changed=changed,
        credit=ordered,
        planned_by=_planned_by(ordered, by),
    )


def _planned_by(credit: list[PlanCredit], by: str) -> str:
    """The model when it proposed every step; `<model>+rules` when the baseline added steps
    it left out; `rules` when none of its proposals made it into the plan."""
    sources = {c.source for c in credit}
    if not sources & {"model", "baseline+model"}:
        return "rules"
    return by if "baseline" not in sources else f"{by}+rules"


def credit_note(plan: ActionPlan, by: str) -> str:
    """One line for the notes and the report: who planned which step, what code changed."""
    from_model = [c.action for c in plan.credit if c.source != "baseline"]
    from_baseline = [c.action for c in plan.credit if c.source == "baseline"]
    parts = [f"plan by {plan.planned_by}"]
    if from_model:
        parts.append(f"{len(from_model)} step(s) proposed by {by}: {', '.join(from_model)}")
    else:
        parts.append(f"none of {by}'s proposals made it into the plan")
    if from_baseline:
        parts.append(
            f"{len(from_baseline)} baseline step(s) the model left out, added by code: "
            + ", ".join(from_baseline)
        )
    if plan.dropped:
        parts.append(
            f"code dropped {len(plan.dropped)}: "
            + "; ".join(f"{d.proposed} ({d.reason})" for d in plan.dropped)
        )
    if plan.changed:
        parts.append(
            f"code changed {len(plan.changed)}: "
            + "; ".join(f"{c.proposed} → {c.became} ({c.reason})" for c in plan.changed)
        )
    return "; ".join(parts)


def _added(kind: ActionType, target: str, diagnosis: Diagnosis) -> Action:
    """A step only the model proposed, with code's reason (never the model's words)."""
    reason = {
        A.notify_slack: f"{diagnosis.category.value}: {diagnosis.root_cause}",
        A.escalate: f"{diagnosis.category.value}: {diagnosis.root_cause}",
        A.log_metrics: "record the incident's metrics for the post-mortem",
        A.open_github_issue: "post-incident tracking",
    }.get(kind, f"{diagnosis.category.value} remedy (CONTRACT.md)")
    return Action(type=kind, target=target, reason=f"proposed by the planner: {reason}")


def _changes(
    item: dict[str, Any], kind: ActionType, asked: str, target: str, why: str, label: str
) -> list[ChangedAction]:
    """What code kept in another form than proposed: a retarget, ignored keys."""
    out = []
    if asked and why:
        out.append(ChangedAction(proposed=label, became=f"{kind.value} → {target}", reason=why))
    ignored = sorted(set(item) - READ_KEYS)
    if ignored:
        reason = "ignored: targets, parameters and approval are decided by code"
        if kind.requires_approval:
            reason += " (this action waits for a person's approval)"
        shown = json.dumps({k: item[k] for k in ignored}, default=str)[:200]
        out.append(ChangedAction(proposed=shown, became=f"{kind.value} → {target}", reason=reason))
    return out


def _target(
    kind: ActionType,
    asked: str,
    incident: Incident,
    diagnosis: Diagnosis,
    alerts_channel: str,
    data_channel: str,
) -> tuple[str | None, str]:
    """(the target code sets, why it differs from the one asked for); (None, why) when the
    action cannot be kept at all."""
    if kind == A.notify_slack:
        name = asked.lstrip("#").lower()
        if name == data_channel.lstrip("#").lower():
            return data_channel, ""
        same = name in ("", alerts_channel.lstrip("#").lower())
        return alerts_channel, "" if same else "agentops posts only to the alerts and data channels"
    if kind == A.escalate:
        word = asked.lower().replace(" ", "_").replace("-", "_")
        try:
            target = EscalationTarget(word)
        except ValueError:
            return None, f"unknown escalation target {asked!r}"
        category = diagnosis.category
        if target not in ESCALATIONS[category]:
            return None, (
                f"escalation to {target.value} is not in the matrix for {category.value}; "
                "ml_team_lead and engineering_manager are raised when remediation fails or "
                "a P1 stays open"
            )
        return target.value, ""
    if kind == A.open_github_issue:
        return "github", "" if asked in ("", "github") else "the tracking issue goes to github"
    model = incident.model_name
    if asked and asked != model:
        return model, f"only the incident's model {model} can be acted on, not {asked!r}"
    return model, ""


def _prioritised(actions: list[Action], data_channel: str) -> list[Action]:
    """Runbook order: Slack, escalations, logging, tracking, then approval-required actions;
    the proposal's order within each group, the alerts channel before the data channel."""
    counters: dict[int, int] = {}
    out = []

    def rank(pair: tuple[int, Action]) -> tuple[int, bool, int]:
        index, action = pair
        return (PRIORITY_BASE[action.type], action.target == data_channel, index)

    for _, action in sorted(enumerate(actions), key=rank):
        base = PRIORITY_BASE[action.type]
        offset = counters.get(base, 0)
        counters[base] = offset + 1
        out.append(action.model_copy(update={"priority": base + offset}))
    return out


def _label(item: Any) -> str:
    if isinstance(item, dict):
        shown = {k: item.get(k) for k in ("type", "target") if k in item}
        return json.dumps(shown, default=str)[:200]
    return str(item)[:200]


__all__ = ["credit_note", "validate_plan"]
