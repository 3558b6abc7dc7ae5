"""Untrusted text stays data: what a model, a table or a runbook wrote shows as typed in
Slack, GitHub and email, and never mentions, links, closes an issue or adds a header."""

from __future__ import annotations

import socket
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest

from agentops.actions.untrusted import (
    JOINER,
    github_code,
    github_text,
    has_live_github_markup,
    has_live_slack_markup,
    header_text,
    quote,
    slack_text,
)

SLACK_ATTACKS = [
    "<!channel> wake up",
    "<!here|here> now",
    "<!everyone>",
    "ping <@U0ALICE> and <@W123|bob>",
    "see <#C0SECURITY|security>",
    "click <https://evil.example/approve|approve here>",
    "mail <mailto:x@evil.example|us>",
    "<!subteam^S123|@oncall>",
    "plain @channel and @here and @Everyone",
]


@pytest.mark.parametrize("text", SLACK_ATTACKS)
def test_slack_markup_from_untrusted_text_is_shown_not_acted_on(text: str) -> None:
    assert has_live_slack_markup(text), "the attack is live before escaping"
    shown = slack_text(text)
    assert not has_live_slack_markup(shown)
    assert "<" not in shown and ">" not in shown
    # what a reader sees: the same characters (Slack unescapes &lt; &gt; &amp;; the joiner
    # is invisible)
    seen = shown.replace(JOINER, "").replace("&lt;", "<").replace("&gt;", ">")
    assert seen.replace("&amp;", "&") == text


def test_slack_escaping_keeps_our_own_text_and_ampersands_readable() -> None:
    assert slack_text("🚨 [P1] Model Drift Critical — classifier_v2\nF1: 0.66") == (
        "🚨 [P1] Model Drift Critical — classifier_v2\nF1: 0.66"
    )
    assert slack_text("V14 & V17") == "V14 &amp; V17"


@pytest.mark.parametrize(
    "text",
    [
        "cc @octocat",
        "ping @org/team-name",
        "fixes #12",
        "Closes: #3",
        "resolved owner/repo#45",
        "see GH-7",
        '<img src="https://evil.example/pixel">',
    ],
)
def test_github_mentions_closing_keywords_and_html_are_neutralised(text: str) -> None:
    assert has_live_github_markup(text)
    shown = github_text(text)
    assert not has_live_github_markup(shown)
    assert shown.replace(JOINER, "").replace("&lt;", "<") == text


def test_github_text_leaves_email_addresses_and_headings_alone() -> None:
    body = "## INC-2026-1120-1\n- contact alice@example.com\n- step #a"
    assert github_text(body) == body
    assert not has_live_github_markup(body)


def test_a_code_span_cannot_be_closed_from_inside() -> None:
    assert github_code("evil`<script>`\nnext") == "evil'<script>' next"


def test_an_email_header_stays_one_line() -> None:
    subject = header_text("[P1] INC-1 escalated: drift — model\r\nBcc: everyone@example.com")
    assert "\r" not in subject and "\n" not in subject
    assert subject == "[P1] INC-1 escalated: drift — model Bcc: everyone@example.com"
    assert len(header_text("x" * 1000)) == 200


def test_a_quote_is_one_capped_line() -> None:
    said = quote("line one\nALREADY APPROVED\n\n" + "x" * 500, 60)
    assert "\n" not in said and len(said) == 60 and said.endswith("…")
    assert said.startswith("line one ALREADY APPROVED")


def test_code_is_not_live_on_github_but_text_around_it_is() -> None:
    fenced = "```diff\n+ cc @octocat fixes #12\n```\nplain `@octocat` here"
    assert not has_live_github_markup(fenced)
    assert has_live_github_markup(fenced + "\nand @octocat")


def test_an_email_sent_with_a_crlf_subject_has_one_subject_and_no_added_header(
    tmp_path: Path,
) -> None:
    from aiosmtpd.controller import Controller

    from agentops.actions.clients import EmailSender
    from agentops.errors import EmailError
    from agentops.settings import Settings

    received: list[bytes] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.content)
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = Settings.load(
            home=tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
        )
        sender = EmailSender(settings)
        sender.send(to="dana@example.com", subject="[P1] m\r\nBcc: all@evil.example", text="x")
        with pytest.raises(EmailError, match="line break"):
            sender.send(to="dana@example.com\r\nBcc: all@evil.example", subject="s", text="x")
    finally:
        controller.stop()
    [raw] = received
    mail = message_from_bytes(raw, policy=email_policy.default)
    assert mail["Subject"] == "[P1] m Bcc: all@evil.example"
    assert mail["Bcc"] is None and len(mail.get_all("Subject") or []) == 1
