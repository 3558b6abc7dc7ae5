"""The outside world: Slack (slack-sdk), GitHub (PyGithub) and email (smtplib) senders.

Each sender is built by a small factory from `Settings`, so tests point it at a local
stand-in server through the settings' base URLs. A channel without credentials has no sender
(`Senders.slack is None`): its messages go to the local outbox instead.

Every failure raises the matching `IntegrationError` subclass with the service's own reason.
"""

from __future__ import annotations

import random
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from github import Auth, Github, GithubException, GithubRetry
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter

from agentops.actions.untrusted import header_text
from agentops.errors import EmailError, GitHubError, SlackError
from agentops.settings import Settings

SLACK_RETRIES = 3
GITHUB_RETRIES = 3
TIMEOUT_S = 30


@dataclass(frozen=True)
class SlackPost:
    channel: str
    ts: str


class SlackSender:
    """chat.postMessage / conversations.open, with slack-sdk's retry handlers."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        blocks: list[dict[str, object]] | None = None,
    ) -> SlackPost:
        """Post `text` (with Block Kit `blocks`, e.g. approval buttons) to a channel (name or
        id) or, for a user id, to their DM."""
        try:
            if _is_user_id(channel):
                opened = self.client.conversations_open(users=channel)
                channel = str(opened["channel"]["id"])
            kwargs: dict[str, object] = {"channel": channel, "text": text}
            if blocks:
                kwargs["blocks"] = blocks
            if thread_ts:
                kwargs["thread_ts"] = thread_ts
                if broadcast:
                    kwargs["reply_broadcast"] = True
            response = self.client.chat_postMessage(**kwargs)  # type: ignore[arg-type]
        except SlackApiError as exc:
            reason = exc.response.get("error") if exc.response is not None else str(exc)
            status = getattr(exc.response, "status_code", "?")
            raise SlackError(
                f"Slack refused the message to {channel}: {reason} (HTTP {status})"
            ) from None
        except (SlackClientError, OSError) as exc:
            raise SlackError(f"cannot reach Slack for {channel}: {exc}") from None
        return SlackPost(channel=str(response["channel"]), ts=str(response["ts"]))

    def update(
        self, channel: str, ts: str, text: str, *, blocks: list[dict[str, object]] | None = None
    ) -> None:
        """Replace a posted message (chat.update), e.g. an approval with its decision."""
        try:
            kwargs: dict[str, object] = {"channel": channel, "ts": ts, "text": text}
            if blocks is not None:
                kwargs["blocks"] = blocks
            self.client.chat_update(**kwargs)  # type: ignore[arg-type]
        except SlackApiError as exc:
            reason = exc.response.get("error") if exc.response is not None else str(exc)
            raise SlackError(f"Slack refused the update of {channel}/{ts}: {reason}") from None
        except (SlackClientError, OSError) as exc:
            raise SlackError(f"cannot reach Slack to update {channel}/{ts}: {exc}") from None


def _is_user_id(target: str) -> bool:
    return len(target) > 1 and target[0] in "UW" and target[1:].isalnum() and target.isupper()


class GitHubSender:
    """Create or update an issue in one repository."""

    def __init__(self, client: Github, repo: str) -> None:
        self.client = client
        self.repo_name = repo

    def upsert_issue(
        self, *, title: str, body: str, labels: list[str], number: int | None = None
    ) -> int:
        """Create the issue (number None) or edit issue `number`; returns its number."""
        try:
            repo = self.client.get_repo(self.repo_name)
            if number is None:
                return int(repo.create_issue(title=title, body=body, labels=labels).number)
            issue = repo.get_issue(number)
            issue.edit(title=title, body=body, labels=labels)
            return number
        except GithubException as exc:
            message = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
            raise GitHubError(
                f"GitHub refused the issue in {self.repo_name}: {message} (HTTP {exc.status})"
            ) from None
        except OSError as exc:  # requests' errors, including retries exhausted on 5xx
            reason = exc.args[0] if exc.args else exc
            cause = getattr(reason, "reason", None)
            raise GitHubError(
                f"GitHub request for {self.repo_name} failed after {GITHUB_RETRIES} retries: "
                f"{cause or reason}"
            ) from None


class EmailSender:
    """One SMTP session per message: STARTTLS and login as the settings say."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, *, to: str, subject: str, text: str) -> str:
        """Send one plain-text email; returns its Message-ID. The subject is made one line
        (a CR/LF from a model or a table could otherwise add a `Bcc:` header); an address
        with a line break in it is refused."""
        cfg = self.settings
        if any(c in to for c in "\r\n"):
            raise EmailError(f"refused an email address with a line break in it: {to!r}")
        message = EmailMessage()
        message["From"] = cfg.email_from
        message["To"] = to
        message["Subject"] = header_text(subject)
        message["Message-ID"] = make_msgid(domain=cfg.email_from.rpartition("@")[2] or None)
        message.set_content(text)
        try:
            with smtplib.SMTP(cfg.smtp_host or "", cfg.smtp_port, timeout=TIMEOUT_S) as smtp:
                if cfg.smtp_starttls:
                    smtp.starttls()
                if cfg.smtp_user:
                    password = cfg.smtp_password.get_secret_value() if cfg.smtp_password else ""
                    smtp.login(cfg.smtp_user, password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise EmailError(
                f"SMTP {cfg.smtp_host}:{cfg.smtp_port} refused the email to {to}: {exc}"
            ) from None
        return str(message["Message-ID"])


@dataclass(frozen=True)
class Senders:
    """The configured senders; a None channel writes to the local outbox."""

    slack: SlackSender | None = None
    github: GitHubSender | None = None
    email: EmailSender | None = None

    def configured(self, channel: str) -> bool:
        return getattr(self, channel) is not None


class _ProportionalJitter(Jitter):
    """Up to +100% of the backoff: slack-sdk's default jitter adds up to a whole second,
    whatever the backoff, which would dominate a short one."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random())


def slack_client(settings: Settings, *, backoff_s: float = 0.5) -> WebClient | None:
    """A WebClient that retries 429 (after Retry-After), 500/503 and dropped connections."""
    if settings.slack_token is None:
        return None
    interval = BackoffRetryIntervalCalculator(backoff_s, jitter=_ProportionalJitter())
    return WebClient(
        token=settings.slack_token.get_secret_value(),
        base_url=settings.slack_base_url,
        timeout=TIMEOUT_S,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=SLACK_RETRIES),
            ServerErrorRetryHandler(max_retry_count=SLACK_RETRIES, interval_calculator=interval),
            ConnectionErrorRetryHandler(
                max_retry_count=SLACK_RETRIES, interval_calculator=interval
            ),
        ],
    )


def github_client(
    settings: Settings, *, backoff_s: float = 1.0, pace: bool = True
) -> Github | None:
    """A PyGithub client for settings.github_base_url (GitHub Enterprise: https://host/api/v3).

    `pace` keeps PyGithub's pause between writes, which GitHub asks integrations to respect.
    """
    if settings.github_token is None or settings.github_repo is None:
        return None
    return Github(
        base_url=settings.github_base_url.rstrip("/"),
        auth=Auth.Token(settings.github_token.get_secret_value()),
        timeout=TIMEOUT_S,
        retry=GithubRetry(total=GITHUB_RETRIES, backoff_factor=backoff_s),
        seconds_between_requests=0.25 if pace else None,
        seconds_between_writes=1.0 if pace else None,
    )


def build_senders(settings: Settings, *, backoff_s: float = 0.5, pace: bool = True) -> Senders:
    """Senders for every channel that has credentials (Slack token, GitHub token + repo,
    SMTP host); the others stay None and go to the outbox."""
    slack = slack_client(settings, backoff_s=backoff_s)
    github = github_client(settings, backoff_s=backoff_s, pace=pace)
    return Senders(
        slack=SlackSender(slack) if slack is not None else None,
        github=(
            GitHubSender(github, settings.github_repo)
            if github is not None and settings.github_repo
            else None
        ),
        email=EmailSender(settings) if settings.smtp_host else None,
    )
