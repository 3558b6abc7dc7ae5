"""Impossible values in the monitoring tables, told to the people who own the jobs.

Detection skips a row no monitoring job could produce and reports it as a finding
(`detection/sanity.py`). A finding is not a model incident and pages nobody; it is one
message to the data-alerts channel per bad value (table, model, feature, window, column),
sent once, so the team fixes the job that wrote it. `agentops detect` and `agentops run`
also print them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from agentops.actions.formats import one_line
from agentops.actions.outbox import OutgoingMessage, enqueue, get_message
from agentops.actions.runtime import Runtime
from agentops.actions.untrusted import slack_text
from agentops.detection.sanity import Finding


def finding_key(finding: Finding) -> str:
    parts = (
        finding.table,
        finding.model_name,
        finding.feature_name or "",
        str(finding.window_end),
        finding.column,
    )
    return "finding|" + "|".join(parts)


def format_finding_notice(finding: Finding) -> str:
    where = f"{finding.table.upper()} {one_line(finding.model_name)}"
    if finding.feature_name:
        where += f" {one_line(finding.feature_name)}"
    return slack_text(
        f"⚠️ Monitoring table problem — {where}, window ending {finding.window_end}: "
        f"{finding.column} = {one_line(finding.value)} ({finding.problem}).\n"
        "No alert was raised from this row; please fix the job that writes it."
    )


def report_findings(rt: Runtime, findings: Sequence[Finding]) -> list[str]:
    """Queue one data-alerts message per finding not reported before; returns their keys."""
    channel = rt.policy.data_alerts_channel
    sent: list[str] = []
    for finding in findings:
        key = finding_key(finding)[:400]
        with rt.state.begin() as conn:
            if get_message(conn, key) is not None:
                continue
            # its own short owner id: each finding is a message of its own, not a thread
            owner = "tables-" + hashlib.sha256(key.encode()).hexdigest()[:16]
            message = OutgoingMessage(
                key, owner, "slack", channel, format_finding_notice(finding), meta={}
            )
            enqueue(conn, message, now=rt.now, configured=rt.senders.configured("slack"))
        sent.append(key)
    return sent
