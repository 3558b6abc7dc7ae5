"""People's other controls — acknowledge, note, confirm the upstream fix, resolve by hand,
false positive, reopen — from the CLI (`--as NAME`) and the page's Slack buttons: each
recorded with who did it, each refused with a reason when it does not apply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentops.cases import read_case
from agentops.cli import app
from agentops.settings import Settings
from agentops.store import Stores
from agentops.store import incidents as store_incidents
from agentops.store import queries as q
from tests.fakes.slack_server import FakeSlack
from tests.unit.graph.conftest import approve, run_pass
from tests.unit.server.conftest import (
    click_body,
    home_settings,
    incident,
    recorded_answers,
    seed_waiting,
    signed,
)

AT = "2026-11-20T12:30:00Z"


@pytest.fixture
def cli_env(cfg: Settings, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI sees the same home, policy file and stand-in Slack as `cfg`."""
    monkeypatch.setenv("AGENTOPS_HOME", str(cfg.home))
    monkeypatch.setenv("AGENTOPS_APPROVERS", "")
    monkeypatch.setenv("AGENTOPS_EMBEDDINGS", "lexical")
    monkeypatch.setenv("AGENTOPS_SLACK_TOKEN", "xoxb-test")
    monkeypatch.setenv("AGENTOPS_SLACK_BASE_URL", slack.base_url)
    for name in ("AGENTOPS_DATABASE_URL", "AGENTOPS_STATE_URL", "AGENTOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def cfg_home(stores: Any) -> Path:
    """The home the stores live in (their SQLite files sit in it)."""
    return Path(str(stores.state.url.database)).parent


def agentops(*args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--now", AT])


def timeline(stores: Stores, incident_id: str) -> list[tuple[str, str]]:
    return [(t.phase, t.note) for t in q.incident_timeline(incident(stores, incident_id))]


@pytest.fixture
def monitoring(cfg: Settings, waiting) -> Iterator[tuple[Stores, str]]:
    """The rollback approved by alice: the incident waits for recovery (status monitoring)."""
    stores, row = waiting
    run_pass(cfg, decide=approve)
    assert incident(stores, row["incident_id"])["waiting_for"] == "recovery"
    yield stores, row["incident_id"]


@pytest.mark.usefixtures("cli_env")
def test_ack_makes_the_person_the_owner_and_says_so_in_the_thread(waiting, slack) -> None:
    stores, row = waiting
    incident_id = row["incident_id"]
    result = agentops("ack", incident_id, "--as", "bob")
    assert result.exit_code == 0, result.output
    assert f"{incident_id} is yours now" in result.output
    assert incident(stores, incident_id)["owner"] == "bob"
    assert ("acknowledged", "bob (cli) took ownership") in timeline(stores, incident_id)
    assert any(p["text"].startswith(f"👀 bob acknowledged {incident_id}") for p in slack.posts)
    again = agentops("ack", incident_id, "--as", "alice")
    assert again.exit_code == 0 and "from bob" in again.output
    assert incident(stores, incident_id)["owner"] == "alice"
    shown = CliRunner().invoke(app, ["incidents", "show", incident_id, "--json"])
    notes = [
        e["note"] for e in json.loads(shown.output)["timeline"] if e["phase"] == "acknowledged"
    ]
    assert notes == ["bob (cli) took ownership", "alice (cli) took ownership from bob"]


@pytest.mark.usefixtures("cli_env")
def test_a_name_not_in_contacts_is_refused_and_changes_nothing(waiting) -> None:
    stores, row = waiting
    result = agentops("ack", row["incident_id"], "--as", "eve")
    assert result.exit_code != 0
    assert "'eve' is not a person in the policy file's contacts" in str(result.exception)
    assert incident(stores, row["incident_id"])["owner"] is None
    assert "acknowledged" not in [phase for phase, _ in timeline(stores, row["incident_id"])]


@pytest.mark.usefixtures("cli_env")
def test_note_and_confirm_fix_are_in_the_timeline_with_who(waiting) -> None:
    stores, row = waiting
    incident_id = row["incident_id"]
    assert agentops("note", incident_id, "vendor says V14 changed", "--as", "alice").exit_code == 0
    fixed = agentops("confirm-fix", incident_id, "--as", "bob", "--comment", "vendor rolled back")
    assert fixed.exit_code == 0, fixed.output
    entries = timeline(stores, incident_id)
    assert ("note", "alice (cli): vendor says V14 changed") in entries
    assert (
        "upstream_fix_confirmed",
        "bob (cli) confirmed the upstream fix: vendor rolled back",
    ) in entries
    empty = agentops("note", incident_id, "  ", "--as", "alice")
    assert empty.exit_code != 0 and "the note is empty" in str(empty.exception)


@pytest.mark.usefixtures("cli_env")
def test_resolve_by_hand_closes_a_monitored_incident_and_reopen_starts_a_new_thread(
    cfg, monitoring
) -> None:
    stores, incident_id = monitoring
    first_thread = incident(stores, incident_id)["thread_id"]
    resolved = agentops("resolve", incident_id, "--as", "alice", "--reason", "fixed upstream")
    assert resolved.exit_code == 0, resolved.output
    row = incident(stores, incident_id)
    assert row["status"] == "resolved" and row["resolved_at"] is not None
    assert ("resolved_by_hand", "alice (cli): fixed upstream") in timeline(stores, incident_id)
    assert row["postmortem"], "the thread closed it: post-mortem written"
    [answer] = recorded_answers(stores)
    assert (answer["kind"], answer["decision"], answer["person"], answer["via"]) == (
        "control",
        "resolve",
        "alice",
        "cli",
    )
    assert answer["outcome"] == "decided"
    # a resolved incident is not acknowledged, and only a resolved one is reopened
    late = agentops("ack", incident_id, "--as", "bob")
    assert late.exit_code != 0 and "is resolved" in str(late.exception)
    reopened = agentops("reopen", incident_id, "--as", "bob", "--reason", "F1 fell again")
    assert reopened.exit_code == 0, reopened.output
    row = incident(stores, incident_id)
    assert (row["status"], row["thread_id"], row["resolved_at"]) == ("open", None, None)
    assert ("reopened", "bob (cli): F1 fell again") in timeline(stores, incident_id)
    twice = agentops("reopen", incident_id, "--as", "bob", "--reason", "again")
    assert twice.exit_code != 0 and "only a resolved incident" in str(twice.exception)
    # the next pass handles it afresh, in the incident's next thread
    run_pass(cfg)
    row = incident(stores, incident_id)
    assert row["thread_id"] == store_incidents.thread_for(incident_id, 1) != first_thread


@pytest.mark.usefixtures("cli_env")
def test_false_positive_closes_it_with_the_reason(monitoring) -> None:
    stores, incident_id = monitoring
    result = agentops("false-positive", incident_id, "--as", "bob", "--reason", "a test deployment")
    assert result.exit_code == 0, result.output
    assert incident(stores, incident_id)["status"] == "resolved"
    assert ("false_positive", "bob (cli): a test deployment") in timeline(stores, incident_id)
    # it feeds the evals: a case that expects no incident on that data
    [case_file] = sorted((cfg_home(stores) / "evals" / "false_positives").glob("*/case.yaml"))
    case = read_case(case_file)
    assert case.expect.incident is False and "false_positive" in case.tags
    assert "a test deployment" in case.description
    assert "added to the evals" in result.output


@pytest.mark.usefixtures("cli_env")
def test_closing_needs_a_reason_and_an_incident_that_waits_for_recovery(waiting) -> None:
    stores, row = waiting
    incident_id = row["incident_id"]
    pending = agentops("resolve", incident_id, "--as", "alice", "--reason", "done")
    assert pending.exit_code != 0
    assert "waits for an approval of rollback_model → classifier_v2" in str(pending.exception)
    bare = agentops("false-positive", incident_id, "--as", "alice", "--reason", " ")
    assert bare.exit_code != 0 and "needs a reason" in str(bare.exception)
    assert recorded_answers(stores) == []
    assert incident(stores, incident_id)["status"] == "awaiting_approval"


def test_the_pages_acknowledge_button_in_slack(client, slack, waiting) -> None:
    stores, row = waiting
    incident_id = row["incident_id"]
    body = click_body("U0BOB", "agentops_ack", incident_id, response_url=slack.response_url())
    response = client.post("/slack/interactions", content=body, headers=signed(body))
    assert response.status_code == 200
    assert incident(stores, incident_id)["owner"] == "bob"
    assert ("acknowledged", "bob (slack) took ownership") in timeline(stores, incident_id)
    [said] = slack.responses
    assert said["text"] == f"{incident_id} is yours now."
    stranger = click_body(
        "U0NOBODY", "agentops_ack", incident_id, response_url=slack.response_url()
    )
    client.post("/slack/interactions", content=stranger, headers=signed(stranger))
    assert "not a known person" in slack.responses[-1]["text"]
    assert incident(stores, incident_id)["owner"] == "bob"


def test_confirm_fix_button_on_an_unknown_incident_says_so(client, slack, waiting) -> None:
    body = click_body(
        "U0ALICE", "agentops_confirm_fix", "INC-1999-0101-9", response_url=slack.response_url()
    )
    response = client.post("/slack/interactions", content=body, headers=signed(body))
    assert response.status_code == 200
    assert "no incident 'INC-1999-0101-9'" in slack.responses[-1]["text"]


def test_with_no_contacts_a_configured_approver_may_act_and_nobody_else(
    tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = home_settings(tmp_path, slack, "")
    stores, row = seed_waiting(cfg.model_copy(update={"approvers": ("alice",)}))
    monkeypatch.setenv("AGENTOPS_HOME", str(cfg.home))
    monkeypatch.setenv("AGENTOPS_APPROVERS", "alice")
    monkeypatch.setenv("AGENTOPS_EMBEDDINGS", "lexical")
    for name in ("AGENTOPS_DATABASE_URL", "AGENTOPS_STATE_URL", "AGENTOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    refused = agentops("ack", row["incident_id"], "--as", "bob")
    assert refused.exit_code != 0 and "'bob' is not a known person" in str(refused.exception)
    assert agentops("ack", row["incident_id"], "--as", "alice").exit_code == 0
    assert incident(stores, row["incident_id"])["owner"] == "alice"
    stores.dispose()
