"""Operating the operator: `agentops doctor`.

`doctor` prints where every store, file and credential comes from (an environment
variable, the policy file, or a default) and checks each: the two databases, the policy
file, the outside services (unless --offline), the workers' heartbeats. Secrets are never
printed. It exits 1 when a check failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from agentops.cli.app import JsonFlag, app, console, print_json, settings
from agentops.clock import utcnow
from agentops.errors import AgentOpsError, ConfigError

if TYPE_CHECKING:
    from agentops.settings import Settings

MARK = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]", "info": "    "}


@dataclass
class Check:
    name: str
    value: str
    source: str  # the variable it came from, the policy file, or how the default was chosen
    status: str  # ok | warn | fail | info
    detail: str = ""


def _source(cfg: Settings, field: str, default: str = "default") -> str:
    if field in cfg.model_fields_set:
        alias = type(cfg).model_fields[field].validation_alias
        return str(getattr(alias, "choices", [field])[0])
    return default


def _secret(cfg: Settings, field: str) -> tuple[str, str]:
    return ("set", _source(cfg, field)) if getattr(cfg, field) is not None else ("not set", "-")


def _home(cfg: Settings) -> Check:
    if "home" not in cfg.model_fields_set:
        source = "default: the XDG data dir; set AGENTOPS_HOME to choose"
    elif not cfg.home.is_absolute():
        return Check("home", str(cfg.home), "AGENTOPS_HOME", "warn", "relative: moves with cwd")
    else:
        source = "AGENTOPS_HOME"
    if cfg.home.exists() and not cfg.home.is_dir():
        return Check("home", str(cfg.home.resolve()), source, "fail", "not a directory")
    found = "exists" if cfg.home.is_dir() else "created on first use"
    return Check("home", str(cfg.home.resolve()), source, "ok", found)


def _monitoring(cfg: Settings) -> Check:
    from agentops.store import open_monitoring
    from agentops.store.engine import describe_url

    url = cfg.resolved_database_url
    source = _source(cfg, "database_url", "default: agentops.db in home")
    try:
        open_monitoring(url).dispose()
    except AgentOpsError as exc:
        return Check("monitoring db", describe_url(url), source, "fail", str(exc))
    return Check("monitoring db", describe_url(url), source, "ok", "every contract table")


def _state(cfg: Settings) -> list[Check]:
    """The state store as it is: doctor never creates or migrates it."""
    import sqlalchemy as sa

    from agentops.store import check_reachable, create_store_engine
    from agentops.store import workers as store_workers
    from agentops.store.engine import db_error_text, describe_url
    from agentops.store.migrations import HEAD, current_version

    url = cfg.resolved_state_url
    source = _source(cfg, "state_url", "default: state.db in home")
    engine = None
    try:
        engine = create_store_engine(url, role="state")
        check_reachable(engine)
        with engine.connect() as conn:
            version = current_version(conn)
            tables = set(sa.inspect(conn).get_table_names())
        beats = store_workers.latest(engine) if version == HEAD else []
    except (AgentOpsError, sa.exc.SQLAlchemyError) as exc:
        detail = str(exc) if isinstance(exc, AgentOpsError) else db_error_text(exc)
        return [Check("state store", describe_url(url), source, "fail", detail)]
    finally:
        if engine is not None:
            engine.dispose()
    status, detail = "ok", f"schema version {version}"
    if version == 0:
        status, detail = "warn", "empty: created on first use (or `agentops db init`)"
    elif version < HEAD:
        status, detail = "fail", f"schema version {version} of {HEAD}: run `agentops db upgrade`"
    elif version > HEAD:
        status, detail = "fail", f"schema version {version}: newer than this agentops ({HEAD})"
    saved = "checkpoints" in tables
    return [
        Check("state store", describe_url(url), source, status, detail),
        Check("checkpoints", "in the state store", source, "ok" if saved else "info",
              "tables present" if saved else "created by the first run"),
        _workers(beats),
    ]  # fmt: skip


def _undelivered(cfg: Settings) -> Check:
    """P1 Slack messages Slack has refused (`deliver.undelivered_p1`) and how their email
    fallback stands. Read-only: a store that does not exist yet has nothing undelivered."""
    import sqlalchemy as sa

    from agentops.actions.deliver import undelivered_p1
    from agentops.store import create_store_engine
    from agentops.store.engine import db_error_text

    name = "undelivered P1"
    engine = None
    try:
        engine = create_store_engine(cfg.resolved_state_url, role="state")
        with engine.connect() as conn:
            if "agentops_messages" not in sa.inspect(conn).get_table_names():
                return Check(name, "none", "state store", "ok", "no messages yet")
            stuck = undelivered_p1(conn)
    except (AgentOpsError, sa.exc.SQLAlchemyError) as exc:
        detail = str(exc) if isinstance(exc, AgentOpsError) else db_error_text(exc)
        return Check(name, "unknown", "state store", "warn", detail)
    finally:
        if engine is not None:
            engine.dispose()
    if not stuck:
        return Check(name, "none", "state store", "ok", "every P1 message got through")
    first = stuck[0]
    detail = (
        f"{first['incident_id']}: slack → {first['target']} ({first['status']}, "
        f"{first['attempts']} attempts: {first.get('last_error') or 'no error recorded'}); "
        f"email fallback: {first['fallback']}"
    )
    unreached = [m for m in stuck if m["fallback"] in {"none", "failed"}]
    status = "fail" if unreached else "warn"
    return Check(name, f"{len(stuck)} message(s)", "state store", status, detail)


def _workers(beats: list[dict[str, Any]]) -> Check:
    if not beats:
        return Check("workers", "none yet", "state store", "info", "no pass has run")
    last = beats[0]
    ago = (utcnow() - last["last_beat"]).total_seconds()
    detail = f"last beat {ago:.0f} s ago: {last['worker_id']} ({last['last_pass_status']})"
    return Check("workers", f"{len(beats)} known", "state store", "info", detail)


def _policy(cfg: Settings) -> list[Check]:
    from agentops.actions.policy import load_policy
    from agentops.detection.thresholds import load_threshold_set

    source = _source(cfg, "config_file", "default: config.yaml in home")
    where = str(cfg.config_file or cfg.home / "config.yaml")
    try:
        path = cfg.resolved_config_file
        people = load_policy(cfg).people
        load_threshold_set(cfg)
    except ConfigError as exc:
        return [Check("policy file", where, source, "fail", str(exc))]
    if isinstance(people.approvers, dict):
        who = "; ".join(f"{a.value}: {', '.join(n)}" for a, n in people.approvers.items())
    elif people.approvers is not None:
        who = ", ".join(people.approvers)
    else:
        who = ", ".join(cfg.approvers)
    origin = "policy file" if people.approvers is not None else _source(cfg, "approvers", "-")
    detail = f"{len(people.contacts)} contacts, {len(people.tokens)} server tokens"
    return [
        Check("policy file", str(path or "none"), source if path else "-", "ok",
              detail if path else "the runbook's defaults"),
        Check("approvers", who or "nobody", origin, "ok" if who else "warn",
              "" if who else "approval requests wait; every answer is refused"),
    ]  # fmt: skip


def _files(cfg: Settings) -> list[Check]:
    runbooks = cfg.resolved_runbooks_dir
    count = len(list(runbooks.glob("*.md"))) if runbooks.is_dir() else 0
    where = _source(cfg, "runbooks_dir", "default: the project's runbooks/")
    return [
        Check("runbooks", str(runbooks), where, "ok" if count else "fail", f"{count} files"),
        Check("outbox", str(cfg.outbox_dir), "home", "info", "channels with no credentials"),
        Check("post-mortems", str(cfg.postmortem_dir), "home", "info", "also in the state store"),
        Check("index", str(cfg.index_dir), "home", "info", "rebuilt when missing"),
    ]


def _slack(cfg: Settings) -> str | None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    token = cfg.slack_token.get_secret_value() if cfg.slack_token else ""
    try:
        WebClient(token, base_url=cfg.slack_base_url, timeout=5).auth_test()
    except SlackApiError as exc:
        return f"Slack refused auth.test: {exc.response.get('error')}"
    except OSError as exc:
        return f"cannot reach Slack at {cfg.slack_base_url}: {exc}"
    return None


def _github(cfg: Settings) -> str | None:
    from github import Auth, Github, GithubException

    if not cfg.github_repo:
        return "AGENTOPS_GITHUB_REPO is not set"
    token = cfg.github_token.get_secret_value() if cfg.github_token else ""
    base = cfg.github_base_url.rstrip("/")
    client = Github(base_url=base, auth=Auth.Token(token), timeout=5, retry=None)
    try:
        client.get_repo(cfg.github_repo)
    except GithubException as exc:
        return f"GitHub answered {exc.status} for {cfg.github_repo}"
    except OSError as exc:
        return f"cannot reach GitHub at {base}: {exc}"
    finally:
        client.close()
    return None


def _smtp(cfg: Settings) -> str | None:
    import smtplib

    try:
        with smtplib.SMTP(cfg.smtp_host or "", cfg.smtp_port, timeout=5) as server:
            server.ehlo()
            if cfg.smtp_starttls:
                server.starttls()
            if cfg.smtp_user and cfg.smtp_password:
                server.login(cfg.smtp_user, cfg.smtp_password.get_secret_value())
    except (OSError, smtplib.SMTPException) as exc:
        return f"SMTP {cfg.smtp_host}:{cfg.smtp_port}: {exc}"
    return None


SERVICES: tuple[tuple[str, str, Callable[[Settings], str | None]], ...] = (
    ("Slack token", "slack_token", _slack),
    ("GitHub token", "github_token", _github),
    ("SMTP server", "smtp_host", _smtp),
)


def _services(cfg: Settings, offline: bool) -> list[Check]:
    model = cfg.resolved_model
    key, key_source = _secret(cfg, "openai_api_key")
    needs_key = model.startswith("openai:") and key == "not set"
    found = [
        Check("model", model, _source(cfg, "model"), "ok", ""),
        Check("OpenAI key", key, key_source, "fail" if needs_key else "info", ""),
    ]
    for name, field, check in SERVICES:
        value, where = _secret(cfg, field)
        if value == "not set":
            found.append(Check(name, value, where, "info", "its messages go to the local outbox"))
            continue
        problem = None if offline else check(cfg)
        status = "info" if offline else "fail" if problem else "ok"
        detail = "not checked (--offline)" if offline else problem or "reachable"
        found.append(Check(name, value, where, status, detail))
    secret, where = _secret(cfg, "slack_signing_secret")
    found.append(Check("Slack signing secret", secret, where, "info", "verifies button clicks"))
    return found


@app.command("doctor")
def doctor(
    offline: Annotated[
        bool, typer.Option("--offline", help="do not call Slack, GitHub or the SMTP server")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Where every store, file and credential comes from, and whether each works; exits 1
    when a check failed. Secrets are never printed."""
    cfg = settings()
    checks = [_home(cfg), _monitoring(cfg), *_state(cfg), _undelivered(cfg), *_policy(cfg)]
    checks += _files(cfg)
    checks += _services(cfg, offline)
    failed = [c for c in checks if c.status == "fail"]
    if json_out:
        print_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        for c in checks:
            detail = f" — {escape(c.detail)}" if c.detail else ""
            line = f"{MARK[c.status]} {c.name:<20} {escape(c.value)} [dim]({escape(c.source)})[/]"
            console.print(line + detail, soft_wrap=True)
        console.print(f"{len(failed)} problem(s)" if failed else "no problems found")
    if failed:
        raise typer.Exit(1)
