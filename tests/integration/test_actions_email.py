"""smtplib against aiosmtpd: P1 escalations and stakeholder updates by email."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from agentops.actions import build_senders, deliver_pending, execute, post_resolution
from agentops.domain import Action, ActionType
from agentops.store import Stores, queries
from tests.conftest import make_stores
from tests.unit.actions.builders import (
    NOW,
    drift_incident,
    make_settings,
    policy_with_contacts,
    store_incident,
)

pytestmark = pytest.mark.integration


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=email_policy.default)
        self.messages.append((list(envelope.rcpt_tos), mail))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == b"s3cret"
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _store(home: Path, **overrides: Any) -> tuple[Any, Stores]:
    cfg = make_settings(home, **overrides)
    engine = make_stores(cfg)
    store_incident(engine, drift_incident())
    return cfg, engine


def test_a_p1_escalation_is_emailed_with_login_while_slack_goes_to_the_outbox(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    cfg, engine = _store(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_user="agentops",
        smtp_password="s3cret",
        email_from="agentops@acme.test",
    )
    action = Action(type=ActionType.escalate, target="ml_team_lead")
    result = execute(
        engine, cfg, drift_incident(), action, now=NOW, policy=policy_with_contacts(cfg)
    )
    assert result.status == "succeeded"
    ((to, mail),) = inbox.messages
    assert to == ["dana@example.com"] and inbox.logins == ["agentops"]
    assert mail["From"] == "agentops@acme.test"
    assert mail["Subject"] == (
        "[P1] INC-2026-1120-1 escalated to Dana Lee (ML team lead): Model Drift — classifier_v2"
    )
    assert "Why you: automated remediation failed" in mail.get_content()
    with engine.state.connect() as conn:
        statuses = {(r["channel"], r["status"]) for r in queries.messages_for(conn)}
    assert statuses == {("slack", "outbox"), ("email", "sent")}


def test_the_p1_resolution_goes_to_management_as_a_stakeholder_update(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    cfg, engine = _store(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_user="agentops",
        smtp_password="s3cret",
    )
    post_resolution(
        engine,
        cfg,
        drift_incident(),
        now=NOW + timedelta(minutes=15),
        root_cause="V14 units changed",
        resolution="Retrained",
        policy=policy_with_contacts(cfg),
    )
    ((to, mail),) = inbox.messages
    assert to == ["manager@example.com"]
    assert mail["Subject"] == "[Resolved] INC-2026-1120-1: Model Drift — classifier_v2"
    assert "Time to resolve: 45 minutes" in mail.get_content()


def test_a_refused_session_queues_the_email_until_delivery_succeeds(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    # STARTTLS is asked for but this server offers none: the send fails, the email waits
    cfg, engine = _store(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=True,
        smtp_user="agentops",
        smtp_password="s3cret",
    )
    policy = policy_with_contacts(cfg)
    action = Action(type=ActionType.escalate, target="engineering_manager")
    result = execute(engine, cfg, drift_incident(), action, now=NOW, policy=policy)
    assert result.status == "queued" and "STARTTLS" in result.detail
    assert inbox.messages == []
    fixed = cfg.model_copy(update={"smtp_starttls": False})
    report = deliver_pending(
        engine.state, fixed, now=NOW + timedelta(minutes=5), senders=build_senders(fixed)
    )
    assert len(report.sent) == 1 and len(inbox.messages) == 1
