"""slack-sdk against the stand-in Slack: formats, routing, threading, retries, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agentops.actions import Senders, build_senders, deliver_pending, execute, post_resolution
from agentops.actions.clients import SlackSender
from agentops.domain import Action, ActionType
from agentops.settings import Settings
from agentops.store import Stores, queries
from tests.conftest import make_stores
from tests.fakes.slack_server import FakeSlack, running_slack
from tests.unit.actions.builders import (
    NOW,
    drift_incident,
    make_settings,
    policy_with_contacts,
    store_incident,
)

pytestmark = pytest.mark.integration
NOTIFY = Action(type=ActionType.notify_slack, target="#ml-alerts")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running_slack() as fake:
        yield fake


@pytest.fixture
def cfg(tmp_path: Path, slack: FakeSlack) -> Settings:
    return make_settings(tmp_path / "home", slack_token="xoxb-test", slack_base_url=slack.base_url)


@pytest.fixture
def store(cfg: Settings) -> Stores:
    eng = make_stores(cfg)
    store_incident(eng, drift_incident())
    return eng


@pytest.fixture
def senders(cfg: Settings) -> Senders:
    return build_senders(cfg, backoff_s=0.01, pace=False)


def _rows(engine: Stores) -> list[dict[str, object]]:
    with engine.state.connect() as conn:
        return queries.messages_for(conn)


def test_alert_is_posted_in_the_runbook_format_with_the_token(
    store: Stores, cfg: Settings, senders: Senders, slack: FakeSlack
) -> None:
    result = execute(store, cfg, drift_incident(), NOTIFY, now=NOW, senders=senders)
    assert result.status == "succeeded"
    (post,) = slack.posts
    assert post["channel"] == "#ml-alerts"
    assert post["text"].splitlines()[0] == "🚨 [P1] Model Drift Critical — classifier_v2"
    assert "thread_ts" not in post
    assert {c.token for c in slack.calls} == {"xoxb-test"}
    (row,) = _rows(store)
    assert (row["status"], row["external_ref"]) == ("sent", f"CMLALERTS:{post['ts']}")


def test_later_messages_reply_in_the_incident_thread(
    store: Stores, cfg: Settings, senders: Senders, slack: FakeSlack
) -> None:
    incident = drift_incident()
    execute(store, cfg, incident, NOTIFY, now=NOW, senders=senders)
    post_resolution(
        store,
        cfg,
        incident,
        now=NOW + timedelta(minutes=15),
        root_cause="V14 units",
        resolution="Retrained",
        senders=senders,
    )
    alert_post, resolution = slack.posts
    assert resolution["thread_ts"] == alert_post["ts"]
    assert resolution["channel"] == "CMLALERTS"
    assert resolution["reply_broadcast"] is True
    assert resolution["text"].startswith(
        "✅ [Resolved] Model Drift — classifier_v2\nRoot cause: V14 units"
    )


def test_escalation_opens_a_dm_with_the_person(
    store: Stores, cfg: Settings, senders: Senders, slack: FakeSlack
) -> None:
    action = Action(type=ActionType.escalate, target="ml_team_lead")
    execute(
        store,
        cfg,
        drift_incident(),
        action,
        now=NOW,
        senders=senders,
        policy=policy_with_contacts(cfg),
    )
    assert [c.method for c in slack.calls] == ["conversations.open", "chat.postMessage"]
    assert slack.calls[0].payload["users"] == "U0LEAD"
    assert slack.posts[0]["channel"] == "DU0LEAD"
    assert slack.posts[0]["text"].startswith(
        "⚠️ [P1] Escalation to Dana Lee (ML team lead) — classifier_v2"
    )


def test_rate_limits_and_server_errors_are_retried_by_the_client(
    store: Stores, cfg: Settings, senders: Senders, slack: FakeSlack
) -> None:
    slack.fail_next(429, retry_after=0)
    slack.fail_next(500, times=2)
    result = execute(store, cfg, drift_incident(), NOTIFY, now=NOW, senders=senders)
    assert result.status == "succeeded"
    assert len(slack.calls) == 4 and len(slack.posts) == 1


def test_a_slack_outage_queues_the_message_and_a_later_delivery_sends_it_once(
    store: Stores, cfg: Settings, senders: Senders, slack: FakeSlack
) -> None:
    slack.fail_next(500, times=4)  # the first try and its three retries
    incident = drift_incident()
    result = execute(store, cfg, incident, NOTIFY, now=NOW, senders=senders)
    assert result.status == "queued" and "will retry" in result.detail
    (row,) = _rows(store)
    assert (row["status"], row["attempts"]) == ("queued", 1)
    assert "internal_error" in str(row["last_error"])
    assert (
        deliver_pending(store.state, cfg, now=NOW + timedelta(seconds=10), senders=senders).sent
        == []
    )
    report = deliver_pending(store.state, cfg, now=NOW + timedelta(minutes=1), senders=senders)
    assert len(report.sent) == 1 and len(slack.posts) == 1
    assert (
        deliver_pending(store.state, cfg, now=NOW + timedelta(hours=1), senders=senders).sent == []
    )
    replay = execute(store, cfg, incident, NOTIFY, now=NOW + timedelta(hours=1), senders=senders)
    assert replay.replayed and replay.status == "succeeded"
    assert len(slack.posts) == 1


def test_a_refused_message_gives_up_after_the_last_attempt_and_stays_visible(
    store: Stores, cfg: Settings, senders: Senders, slack: FakeSlack
) -> None:
    slack.refuse_next("channel_not_found", times=100)
    execute(store, cfg, drift_incident(), NOTIFY, now=NOW, senders=senders)
    later = NOW
    for _ in range(10):
        later += timedelta(hours=2)
        deliver_pending(store.state, cfg, now=later, senders=senders)
    (row,) = _rows(store)
    assert (row["status"], row["attempts"]) == ("failed", 8)
    assert "channel_not_found" in str(row["last_error"])


class _CrashingSlack(SlackSender):
    def post(self, channel: str, text: str, **kwargs: object) -> object:  # type: ignore[override]
        raise KeyboardInterrupt  # the process dies mid-delivery


def test_after_a_crash_a_rerun_sends_exactly_one_message(
    store: Stores, cfg: Settings, senders: Senders, slack: FakeSlack
) -> None:
    assert senders.slack is not None
    crashing = Senders(slack=_CrashingSlack(senders.slack.client))
    incident = drift_incident()
    with pytest.raises(KeyboardInterrupt):
        execute(store, cfg, incident, NOTIFY, now=NOW, senders=crashing)
    assert slack.posts == []
    rerun = execute(store, cfg, incident, NOTIFY, now=NOW + timedelta(minutes=1), senders=senders)
    assert rerun.replayed  # the node re-ran: nothing new enqueued
    deliver_pending(
        store.state, cfg, now=NOW + timedelta(minutes=6), senders=senders
    )  # lease expired
    execute(store, cfg, incident, NOTIFY, now=NOW + timedelta(minutes=7), senders=senders)
    deliver_pending(store.state, cfg, now=NOW + timedelta(minutes=20), senders=senders)
    assert len(slack.posts) == 1
