"""Escalations through the whole graph, pass by pass (issue 18): once per person AND reason.
After the SLA sweep pinged the ML team lead about an overdue approval, rejecting the rollback
still tells them the incident needs a person; nothing is told twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agentops.settings import Settings
from agentops.store import queries
from tests.conftest import NOW, make_stores
from tests.unit.graph.conftest import reject, run_pass

POLICY = """
contacts:
  alice: {name: Alice Ng, slack: U0ALICE}
  erin: {name: Erin Park, email: manager@example.com}
roles:
  ml_team_lead: [alice]
  engineering_manager: [erin]
approvers: [alice]
"""


def test_an_overdue_approval_then_a_rejection_tell_the_lead_twice_for_two_reasons(
    tmp_path: Path,
) -> None:
    from agentops.scenarios import seed_store

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(POLICY)
    settings = Settings.load(home=home, embeddings="lexical")
    stores = make_stores(settings)
    seed_store(stores, NOW, "bad_deployment", hours=48)

    run_pass(settings)  # paged, diagnosed; the rollback waits for alice
    run_pass(settings, NOW + timedelta(minutes=15))  # nobody answered: the sweep tells the lead
    run_pass(settings, NOW + timedelta(minutes=20), decide=reject)  # alice rejects it
    run_pass(settings, NOW + timedelta(minutes=25))  # nothing new to tell anyone

    with stores.state.connect() as conn:
        dms = [m for m in queries.messages_for(conn) if m["target"] == "U0ALICE"]
    escalations = [m["text"] for m in dms if m["text"].startswith("⚠️")]
    assert len(escalations) == 2, escalations
    overdue = [t for t in escalations if "Why you: an approval has waited" in t]
    rejected = [t for t in escalations if "Why you: rollback_model on classifier_v2 rejected" in t]
    assert len(overdue) == len(rejected) == 1, escalations
    for text in escalations:
        assert text.startswith("⚠️ [P1] Escalation to Alice Ng (ML team lead) — classifier_v2")
        assert len(text) <= 600 and len(text.splitlines()) <= 6
    stores.dispose()
