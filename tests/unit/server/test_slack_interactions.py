"""Slack clicks on an approval request, through the app and the stand-in Slack: a valid one
runs the action once, as the person who clicked, and every copy of the request shows the
decision; anything else answers clearly and runs nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from agentops.server.app import create_app
from agentops.store.tables import model_registry
from tests.fakes.slack_server import FakeSlack
from tests.unit.server.conftest import (
    POLICY,
    SECRET,
    click_body,
    home_settings,
    incident,
    ledger,
    recorded_answers,
    seed_waiting,
    signed,
)

URL = "/slack/interactions"


def _key(row: dict) -> str:
    return f"{row['incident_id']}|rollback_model|classifier_v2"


def _request_copies(slack: FakeSlack) -> set[tuple[str, str]]:
    """Where Slack shows the approval request: the #ml-alerts thread and each DM."""
    return {
        (str(p["channel"]), str(p["ts"]))
        for p in slack.posts
        if str(p["text"]).startswith("🔐 Approval needed")
    }


def _active_versions(stores) -> list[str]:
    with stores.monitoring.connect() as conn:
        return list(
            conn.execute(
                sa.select(model_registry.c.model_version).where(model_registry.c.active)
            ).scalars()
        )


def _click(client: TestClient, slack: FakeSlack, user: str, action: str, value: str, **kw):
    body = click_body(user, action, value, response_url=slack.response_url(), **kw)
    return client.post(URL, content=body, headers=signed(body)), body


def test_an_approvers_click_runs_the_rollback_once_and_every_copy_shows_it(
    client, slack, waiting
) -> None:
    stores, row = waiting
    copies = _request_copies(slack)
    assert len(copies) == 3, "the #ml-alerts thread and a DM to alice and to bob"
    clicked = sorted(copies)[0]
    response, _ = _click(client, slack, "U0ALICE", "agentops_approve", _key(row), message=clicked)
    assert response.status_code == 200
    assert ledger(stores, row["incident_id"])[_key(row)] == ("succeeded", "alice", "slack")
    assert _active_versions(stores) == ["2.3.0"]
    assert incident(stores, row["incident_id"])["status"] == "monitoring"
    [answer] = recorded_answers(stores)
    assert (answer["person"], answer["via"], answer["outcome"]) == (
        "alice",
        "slack",
        "decided: approve by alice",
    )
    # each copy: first "running", then the result; the buttons are gone
    final = {(u["channel"], u["ts"]): u for u in slack.updates}
    assert set(final) == copies
    for update in final.values():
        assert "Approved by alice at" in update["text"]
        assert "rollback_model → classifier_v2: succeeded" in update["text"]
        assert "agentops_approve" not in str(update.get("blocks"))
    assert any("running" in u["text"] for u in slack.updates)
    assert slack.responses == [], "no ephemeral needed: the message says it"


def test_a_replayed_click_and_a_second_approvers_click_change_nothing(
    client, slack, waiting
) -> None:
    stores, row = waiting
    response, body = _click(client, slack, "U0ALICE", "agentops_approve", _key(row))
    assert response.status_code == 200
    updates = len(slack.updates)
    replay = client.post(URL, content=body, headers=signed(body))
    bob, _ = _click(client, slack, "U0BOB", "agentops_reject", _key(row))
    assert (replay.status_code, bob.status_code) == (200, 200)
    said = [r["text"] for r in slack.responses]
    assert len(said) == 2 and all("Already approved by alice" in s for s in said), said
    assert all("changed nothing" in s for s in said)
    assert len(recorded_answers(stores)) == 1
    assert len(slack.updates) == updates, "no message changed"
    assert ledger(stores, row["incident_id"])[_key(row)] == ("succeeded", "alice", "slack")


def test_a_reject_runs_nothing_and_hands_the_incident_to_the_ml_team_lead(
    client, slack, waiting
) -> None:
    stores, row = waiting
    response, _ = _click(client, slack, "U0BOB", "agentops_reject", _key(row))
    assert response.status_code == 200
    assert ledger(stores, row["incident_id"])[_key(row)][:2] == ("rejected", "bob")
    assert _active_versions(stores) == ["2.4.0"]
    assert incident(stores, row["incident_id"])["status"] == "escalated"
    assert slack.updates and all("Rejected by bob" in u["text"] for u in slack.updates)


@pytest.mark.parametrize(
    ("user", "said"),
    [
        ("U0MAL", "You may not approve this: mallory is not an approver of rollback_model"),
        ("U0NOBODY", "You are not a known person in agentops' policy file"),
    ],
)
def test_a_non_approver_or_an_unknown_user_is_told_and_nothing_is_recorded(
    client, slack, waiting, user, said
) -> None:
    stores, row = waiting
    response, _ = _click(client, slack, user, "agentops_approve", _key(row))
    assert response.status_code == 200
    [answer] = slack.responses
    assert answer["text"].startswith(said), answer
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert recorded_answers(stores) == []
    assert _key(row) not in ledger(stores, row["incident_id"])
    assert incident(stores, row["incident_id"])["status"] == "awaiting_approval"
    assert slack.updates == []


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"secret": "not-the-secret"}, "signature does not match"),
        ({"age": 6 * 60}, "stale request"),
        ({"drop": True}, "not a signed Slack request"),
        ({"other_body": True}, "signature does not match"),
    ],
)
def test_forged_stale_or_unsigned_requests_are_refused_with_401(
    client, slack, waiting, headers, why
) -> None:
    stores, row = waiting
    body = click_body("U0ALICE", "agentops_approve", _key(row), response_url=slack.response_url())
    if headers.get("drop"):
        sent = {"Content-Type": "application/x-www-form-urlencoded"}
    elif headers.get("other_body"):
        sent = signed(body.replace(b"U0ALICE", b"U0BOB"))
    else:
        sent = signed(
            body,
            secret=headers.get("secret", SECRET),
            at=time.time() - headers.get("age", 0),
        )
    response = client.post(URL, content=body, headers=sent)
    assert response.status_code == 401
    assert why in response.json()["error"]
    assert recorded_answers(stores) == [] and slack.responses == [] and slack.updates == []
    assert incident(stores, row["incident_id"])["status"] == "awaiting_approval"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"nothing=here", "no `payload` form field"),
        (b"payload=%7Bnot+json", "not JSON"),
        (b"payload=%7B%22type%22%3A%22view_submission%22%7D", "only block_actions"),
    ],
)
def test_a_malformed_payload_is_a_400_with_one_line(client, waiting, body, why) -> None:
    response = client.post(URL, content=body, headers=signed(body))
    assert response.status_code == 400
    assert why in response.json()["error"] and "\n" not in response.json()["error"]
    assert recorded_answers(waiting[0]) == []


def test_a_button_that_is_not_ours_is_a_400(client, slack, waiting) -> None:
    _stores, row = waiting
    unknown, _ = _click(client, slack, "U0ALICE", "drop_tables", _key(row))
    not_a_key, _ = _click(client, slack, "U0ALICE", "agentops_approve", "rm -rf|x")
    assert (unknown.status_code, not_a_key.status_code) == (400, 400)
    assert "unknown action_id" in unknown.json()["error"]
    assert "not an approval's action key" in not_a_key.json()["error"]


def test_a_click_after_a_cli_decision_says_who_decided(client, slack, waiting, cfg) -> None:
    from agentops.clock import utcnow
    from agentops.graph.local import local_runtime
    from agentops.store import answers

    stores, row = waiting
    with local_runtime(cfg, "test") as rt:
        with stores.state.begin() as conn:
            answer_id = answers.record_answer(
                conn,
                incident_id=row["incident_id"],
                thread_id=row["thread_id"],
                kind="approval",
                action_key=_key(row),
                decision="reject",
                person="bob",
                via="cli",
                received_at=utcnow(),
            )
            stored = answers.get_answer(conn, answer_id)
        rt.scheduler().apply_answer(stored)
    response, _ = _click(client, slack, "U0ALICE", "agentops_approve", _key(row))
    assert response.status_code == 200
    [said] = slack.responses
    assert said["text"].startswith("Already rejected by bob at") and "(cli)" in said["text"]
    assert ledger(stores, row["incident_id"])[_key(row)][:2] == ("rejected", "bob")
    assert _active_versions(stores) == ["2.4.0"]


def test_a_slack_failure_never_blocks_or_undoes_the_decision(client, slack, waiting) -> None:
    stores, row = waiting
    slack.refuse_next("message_not_found", times=20)
    response, _ = _click(client, slack, "U0ALICE", "agentops_approve", _key(row))
    assert response.status_code == 200
    assert slack.updates == []
    assert ledger(stores, row["incident_id"])[_key(row)] == ("succeeded", "alice", "slack")
    assert _active_versions(stores) == ["2.3.0"]


def test_with_no_approvers_configured_the_click_names_the_setting(
    tmp_path: Path, slack: FakeSlack
) -> None:
    cfg = home_settings(tmp_path / "none", slack, POLICY)
    stores, row = seed_waiting(cfg)
    with TestClient(create_app(cfg, resume="local")) as client:
        response, _ = _click(client, slack, "U0ALICE", "agentops_approve", _key(row))
    assert response.status_code == 200
    [said] = slack.responses
    assert "no approvers are configured" in said["text"] and "`approvers`" in said["text"]
    assert recorded_answers(stores) == []
    stores.dispose()


def test_without_a_signing_secret_every_click_is_refused(
    tmp_path: Path, slack: FakeSlack, waiting
) -> None:
    from agentops.settings import Settings

    stores, row = waiting
    cfg = Settings.load(home=tmp_path / "home", approvers="", slack_signing_secret=None)
    with TestClient(create_app(cfg, resume="local")) as client:
        response, _ = _click(client, slack, "U0ALICE", "agentops_approve", _key(row))
    assert response.status_code == 503
    assert "AGENTOPS_SLACK_SIGNING_SECRET" in response.json()["error"]
    assert recorded_answers(stores) == []


def test_the_policy_change_after_the_click_is_refused_by_the_graph_and_the_buttons_stay(
    client, slack, waiting, cfg, monkeypatch
) -> None:
    """The graph checks the answer again: alice clicks, and before the thread takes it
    she is no longer an approver. Nothing runs; the buttons come back with the reason."""
    import agentops.server.followup as followup

    stores, row = waiting
    original = followup.finish_locally

    def revoke_then_finish(*args, **kwargs):
        (cfg.home / "config.yaml").write_text(POLICY + "approvers: [bob]\n", encoding="utf-8")
        original(*args, **kwargs)

    monkeypatch.setattr(followup, "finish_locally", revoke_then_finish)
    response, _ = _click(client, slack, "U0ALICE", "agentops_approve", _key(row))
    monkeypatch.undo()
    assert response.status_code == 200
    assert _key(row) not in ledger(stores, row["incident_id"])
    assert _active_versions(stores) == ["2.4.0"]
    last = slack.updates[-1]
    assert "was refused" in last["text"] and "alice (slack) may not approve" in last["text"]
    assert "agentops_approve" in str(last["blocks"]), "the request is open again"
    assert any("Nothing was decided" in r["text"] for r in slack.responses)
    # bob still can
    response, _ = _click(client, slack, "U0BOB", "agentops_approve", _key(row))
    assert ledger(stores, row["incident_id"])[_key(row)] == ("succeeded", "bob", "slack")
