"""Registry adapters against real parts: the SQLite monitoring, a command (a Python script), a
webhook (a stand-in server on 127.0.0.1) and a real MLflow registry backed by SQLite."""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentops.actions.registry import (
    ModelRegistry,
    RollbackPlan,
    RollbackRefusal,
    ServingOutcome,
    TableRegistry,
    build_registry,
    execute_rollback,
    plan_rollback,
    promote,
)
from agentops.errors import ConfigError
from agentops.store import queries
from agentops.store.load import load_tables
from agentops.store.tables import deployments
from tests.fakes import registry_server
from tests.fakes.registry_server import FakeRegistry, running_registry

from .builders import NOW

MODEL = "fraud_scorer_v3"


def _deployment(dep_id: str, version: str, previous: str | None, day: int) -> dict[str, Any]:
    return {
        "deployment_id": dep_id,
        "model_name": MODEL,
        "model_version": version,
        "previous_version": previous,
        "deployed_at": f"2026-11-{day:02d}T09:00:00Z",
        "deployed_by": "ml-platform-ci",
        "status": "succeeded",
    }


def _versions(*statuses: str) -> list[dict[str, Any]]:
    """Stand-in registry entries 1..n, newest first."""
    return [
        {"version": str(n), "promoted_at": f"2026-11-{n:02d}T09:00:00Z", "status": status}
        for n, status in reversed(list(enumerate(statuses, start=1)))
    ]


def _plan(
    monitoring: sa.Engine, registry: ModelRegistry, **kw: Any
) -> RollbackPlan | RollbackRefusal:
    with monitoring.connect() as conn:
        return plan_rollback(conn, registry, MODEL, **kw)


def _rollback(monitoring: sa.Engine, registry: ModelRegistry) -> ServingOutcome:
    plan = _plan(monitoring, registry)
    assert isinstance(plan, RollbackPlan), plan
    return execute_rollback(registry, plan, reason="rollback for INC-7", actor="alice")


# ---- the built-in table --------------------------------------------------------------------
def test_table_rollback_with_only_deployments_uses_previous_version(monitoring: sa.Engine) -> None:
    """The issue's scenario: DEPLOYMENTS names the versions, MODEL_REGISTRY is empty."""
    load_tables(
        monitoring,
        {"deployments": [_deployment("dep-2", "2", "1", 1), _deployment("dep-3", "3", "2", 10)]},
    )
    registry = build_registry("table", engine=monitoring, clock=lambda: NOW)
    plan = _plan(monitoring, registry)
    assert plan == RollbackPlan(MODEL, "3", "2", "previous_version of DEPLOYMENTS row dep-3")

    outcome = execute_rollback(registry, plan, reason="rollback for INC-7", actor="alice")
    assert outcome.ok, outcome.detail
    assert "verified" in outcome.detail and "3 -> 2" in outcome.detail
    assert registry.serving_version(MODEL) == "2"
    assert [(v.version, v.status) for v in registry.history(MODEL)] == [("2", "good"), ("3", "bad")]
    with monitoring.connect() as conn:
        newest = conn.execute(
            sa.select(deployments).order_by(deployments.c.deployed_at.desc()).limit(1)
        ).one()
    assert (newest.model_version, newest.previous_version) == ("2", "3")
    assert (newest.deployed_by, newest.description) == ("alice", "rollback for INC-7")
    assert newest.deployed_at == NOW.replace(tzinfo=None)  # the run's clock, not the wall's

    # The next rollback skips 3 (now bad) and follows DEPLOYMENTS further back, to 1.
    assert _plan(monitoring, registry) == RollbackPlan(
        MODEL, "2", "1", "previous_version of DEPLOYMENTS row dep-2"
    )


def test_table_rollback_skips_a_bad_version_in_the_registry(monitoring: sa.Engine) -> None:
    rows = [("1.7", False, "good", 1), ("1.8", False, "bad", 5), ("1.9", True, "good", 10)]
    load_tables(
        monitoring,
        {
            "model_registry": [
                {
                    "model_name": MODEL,
                    "model_version": version,
                    "active": active,
                    "status": status,
                    "promoted_at": f"2026-11-{day:02d}T09:00:00Z",
                }
                for version, active, status, day in rows
            ]
        },
    )
    registry = TableRegistry(monitoring, clock=lambda: NOW)
    outcome = _rollback(monitoring, registry)
    assert outcome.ok, outcome.detail
    assert (outcome.from_version, outcome.to_version) == ("1.9", "1.7")
    with monitoring.connect() as conn:
        table = {
            r["model_version"]: (r["active"], r["status"]) for r in queries.registry(conn, MODEL)
        }
    assert table == {"1.7": (True, "good"), "1.8": (False, "bad"), "1.9": (False, "bad")}


@pytest.mark.parametrize(
    ("rows", "missing"),
    [
        ([], "DEPLOYMENTS has no row for fraud_scorer_v3"),
        ([_deployment("dep-3", "3", None, 10)], "DEPLOYMENTS names no previous_version"),
    ],
)
def test_rollback_with_no_history_anywhere_is_refused_naming_what_is_missing(
    monitoring: sa.Engine, rows: list[dict[str, Any]], missing: str
) -> None:
    load_tables(monitoring, {"deployments": rows})
    plan = _plan(monitoring, TableRegistry(monitoring))
    assert plan == RollbackRefusal(
        MODEL,
        f"no earlier version of {MODEL} is known: the MODEL_REGISTRY table has no history "
        f"and {missing}",
    )


def test_table_refuses_a_version_it_has_never_seen_and_changes_nothing(
    monitoring: sa.Engine,
) -> None:
    load_tables(monitoring, {"deployments": [_deployment("dep-3", "3", "2", 10)]})
    registry = TableRegistry(monitoring, clock=lambda: NOW)
    assert _plan(monitoring, registry, to_version="3") == RollbackRefusal(
        MODEL, f"{MODEL} 3 is already serving (the MODEL_REGISTRY table)"
    )
    plan = _plan(monitoring, registry, to_version="9")
    assert isinstance(plan, RollbackPlan)
    outcome = execute_rollback(registry, plan, reason="r", actor="alice")
    assert not outcome.ok
    assert "version 9 of fraud_scorer_v3 is in neither MODEL_REGISTRY nor DEPLOYMENTS" in (
        outcome.detail
    )
    assert registry.serving_version(MODEL) == "3"
    assert registry.history(MODEL) == []


def test_table_on_a_connection_switches_inside_the_callers_transaction(
    monitoring: sa.Engine,
) -> None:
    load_tables(monitoring, {"deployments": [_deployment("dep-3", "3", "2", 10)]})
    with monitoring.connect() as conn:
        transaction = conn.begin()
        registry = TableRegistry(conn, clock=lambda: NOW)
        plan = plan_rollback(conn, registry, MODEL)
        assert isinstance(plan, RollbackPlan)
        assert execute_rollback(registry, plan, reason="r", actor="alice").ok
        transaction.rollback()  # e.g. the ledger's finish failed: the switch goes too
    assert TableRegistry(monitoring).serving_version(MODEL) == "3"


def test_a_store_without_model_registry_refuses_with_the_database_error(
    monitoring: sa.Engine,
) -> None:
    with monitoring.begin() as conn:
        conn.execute(sa.text("DROP TABLE model_registry"))
    plan = _plan(monitoring, TableRegistry(monitoring))
    assert plan == RollbackRefusal(
        MODEL,
        f"cannot plan a rollback of {MODEL}: the MODEL_REGISTRY table could not be read or "
        "written: no such table: model_registry",
    )


# ---- a command -----------------------------------------------------------------------------
@pytest.fixture
def command_state(tmp_path: Path) -> Path:
    state = tmp_path / "registry-state.json"
    FakeRegistry(serving={MODEL: "3"}, versions={MODEL: _versions("good", "good", "good")}).save(
        state
    )
    return state


def _command_registry(state: Path) -> ModelRegistry:
    argv = [sys.executable, registry_server.__file__, str(state)]
    return build_registry("command", command=shlex.join(argv), timeout_s=30)


def test_command_rollback_moves_serving_and_reads_it_back(
    monitoring: sa.Engine, command_state: Path
) -> None:
    outcome = _rollback(monitoring, _command_registry(command_state))
    assert outcome.ok, outcome.detail
    assert (outcome.from_version, outcome.to_version) == ("3", "2")
    seen = FakeRegistry.load(command_state)
    assert seen.serving[MODEL] == "2"
    assert {v["version"]: v["status"] for v in seen.versions[MODEL]}["3"] == "bad"
    assert [r["op"] for r in seen.requests] == [
        "serving_version",
        "history",
        "set_serving",
        "serving_version",
    ]
    assert seen.requests[2]["actor"] == "alice" and seen.requests[2]["mark_replaced_bad"] is True


def test_command_exiting_non_zero_fails_the_rollback_with_its_message(
    monitoring: sa.Engine, command_state: Path
) -> None:
    registry = _command_registry(command_state)
    plan = _plan(monitoring, registry)
    assert isinstance(plan, RollbackPlan)
    down = FakeRegistry.load(command_state)
    down.fail_next(503)
    down.save(command_state)
    outcome = execute_rollback(registry, plan, reason="r", actor="alice")
    assert not outcome.ok
    assert "exited 2 on set_serving: registry error 503: the registry is down" in outcome.detail
    assert FakeRegistry.load(command_state).serving[MODEL] == "3"


def test_a_command_that_cannot_run_refuses_the_plan(monitoring: sa.Engine, tmp_path: Path) -> None:
    registry = build_registry("command", command=str(tmp_path / "no-such-deploy-tool"))
    plan = _plan(monitoring, registry)
    assert isinstance(plan, RollbackRefusal)
    assert "could not run: No such file or directory" in plan.reason


# ---- a webhook -----------------------------------------------------------------------------
@pytest.fixture
def webhook() -> Iterator[FakeRegistry]:
    fake = FakeRegistry(serving={MODEL: "3"}, versions={MODEL: _versions("good", "good", "good")})
    with running_registry(fake) as running:
        yield running


def test_webhook_without_history_rolls_back_to_the_deployments_previous_version(
    monitoring: sa.Engine, webhook: FakeRegistry
) -> None:
    webhook.keeps_history = False
    load_tables(monitoring, {"deployments": [_deployment("dep-3", "3", "2", 10)]})
    outcome = _rollback(monitoring, build_registry("webhook", webhook=webhook.url))
    assert outcome.ok, outcome.detail
    assert outcome.to_version == "2" and webhook.serving[MODEL] == "2"
    assert webhook.requests[-1] == {"op": "serving_version", "model": MODEL}


def test_webhook_answering_500_fails_the_rollback(
    monitoring: sa.Engine, webhook: FakeRegistry
) -> None:
    registry = build_registry("webhook", webhook=webhook.url)
    plan = _plan(monitoring, registry)
    assert isinstance(plan, RollbackPlan)
    webhook.fail_next(500)
    outcome = execute_rollback(registry, plan, reason="r", actor="alice")
    assert not outcome.ok
    assert outcome.detail == (
        f"rollback of {MODEL} to 2 failed: webhook {webhook.url} answered HTTP 500 to "
        'set_serving: {"error": "the registry is down"}'
    )


@pytest.mark.parametrize(
    ("lies_on", "says"),
    [
        # it takes the request, answers that the old version serves
        ("set_serving", "asked {name} to serve 2, it answered that 3 serves"),
        # it answers the switch as done, but reading back shows the old version
        ("serving_version", "asked {name} to serve 2, reading it back reports 3 serving"),
    ],
)
def test_a_webhook_reporting_another_version_fails_verification(
    monitoring: sa.Engine, webhook: FakeRegistry, lies_on: str, says: str
) -> None:
    registry = build_registry("webhook", webhook=webhook.url)
    plan = _plan(monitoring, registry)
    assert isinstance(plan, RollbackPlan) and plan.to_version == "2"
    webhook.claims_serving, webhook.lies_on = "3", [lies_on]
    outcome = execute_rollback(registry, plan, reason="r", actor="alice")
    assert not outcome.ok
    assert outcome.detail == f"rollback of {MODEL} not verified: " + says.format(name=registry.name)


def test_a_slow_webhook_times_out_as_a_failed_rollback(
    monitoring: sa.Engine, webhook: FakeRegistry
) -> None:
    registry = build_registry("webhook", webhook=webhook.url, timeout_s=0.2)
    plan = _plan(monitoring, registry)
    assert isinstance(plan, RollbackPlan)
    webhook.delay_next(1.0)
    outcome = execute_rollback(registry, plan, reason="r", actor="alice")
    assert not outcome.ok
    assert outcome.detail.endswith("did not answer set_serving within 0.2 s")


def test_webhook_name_hides_credentials() -> None:
    registry = build_registry(
        "webhook", webhook="https://ops:s3cret@deploy.example.com/registry?token=abc123"
    )
    shown = f"{registry.name} {registry.describe()}"
    assert "deploy.example.com/registry" in shown
    assert "s3cret" not in shown and "abc123" not in shown


# ---- MLflow --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with versions 1..3 of the model and `champion` on 3, built once (MLflow's
    schema migrations take seconds) and copied per test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow import MlflowClient

        folder = tmp_path_factory.mktemp("mlflow")
        patch.chdir(folder)  # older clients create ./mlruns for the default experiment
        uri = f"sqlite:///{folder}/mlflow.db"
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.create_registered_model(MODEL)
        for n in (1, 2, 3):
            # No artifacts needed: the registry stores the source URI without reading it.
            client.create_model_version(MODEL, source=f"{folder.as_uri()}/artifacts/{n}")
        client.set_registered_model_alias(MODEL, "champion", "3")
        return folder / "mlflow.db"


@pytest.fixture
def mlflow_uri(mlflow_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.chdir(tmp_path)
    shutil.copy(mlflow_template, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path}/mlflow.db"


def _champion_and_tags(uri: str) -> tuple[str, dict[str, dict[str, str]]]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias(MODEL, "champion").version
    tags = {str(v.version): dict(v.tags) for v in client.search_model_versions(f"name = '{MODEL}'")}
    return str(champion), tags


def test_mlflow_rollback_moves_the_alias_and_tags_the_replaced_version(
    monitoring: sa.Engine, mlflow_uri: str
) -> None:
    registry = build_registry("mlflow", mlflow_uri=mlflow_uri)
    outcome = _rollback(monitoring, registry)
    assert outcome.ok, outcome.detail
    champion, tags = _champion_and_tags(mlflow_uri)
    assert champion == "2"
    assert tags["3"]["agentops.status"] == "bad" and tags["3"]["agentops.actor"] == "alice"
    assert "agentops.status" not in tags["2"]

    again = _rollback(monitoring, registry)  # 3 is bad, so 2 -> 1
    assert (again.ok, again.from_version, again.to_version) == (True, "2", "1")
    assert _champion_and_tags(mlflow_uri)[0] == "1"


def test_mlflow_unknown_version_fails_and_leaves_the_alias(
    monitoring: sa.Engine, mlflow_uri: str
) -> None:
    registry = build_registry("mlflow", mlflow_uri=mlflow_uri)
    plan = _plan(monitoring, registry, to_version="9")
    assert isinstance(plan, RollbackPlan)
    outcome = execute_rollback(registry, plan, reason="r", actor="alice")
    assert not outcome.ok
    assert "moving 'champion' of fraud_scorer_v3 to version 9 failed" in outcome.detail
    assert "\n" not in outcome.detail
    assert _champion_and_tags(mlflow_uri)[0] == "3"


def test_mlflow_promotion_keeps_the_replaced_version_good(mlflow_uri: str) -> None:
    registry = build_registry("mlflow", mlflow_uri=mlflow_uri, alias="production")
    first = promote(registry, MODEL, "2", reason="retrain gate passed", actor="agentops")
    assert first.ok, first.detail
    second = promote(registry, MODEL, "3", reason="retrain gate passed", actor="agentops")
    assert (second.ok, second.from_version) == (True, "2")
    assert registry.serving_version(MODEL) == "3"
    assert all(v.status == "good" for v in registry.history(MODEL))
    assert _champion_and_tags(mlflow_uri)[0] == "3"  # another alias is left alone
    again = promote(registry, MODEL, "3", reason="r", actor="agentops")
    assert again.ok and "nothing changed" in again.detail


def test_mlflow_history_is_newest_first_with_registration_times(mlflow_uri: str) -> None:
    history = build_registry("mlflow", mlflow_uri=mlflow_uri).history(MODEL)
    assert [v.version for v in history] == ["3", "2", "1"]
    times = [v.promoted_at for v in history if v.promoted_at is not None]
    assert len(times) == 3 and max(times) <= datetime.now(UTC)
    assert times == sorted(times, reverse=True)


# ---- building ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "needs"),
    [
        ("command", "AGENTOPS_REGISTRY=command needs AGENTOPS_REGISTRY_COMMAND"),
        ("webhook", "AGENTOPS_REGISTRY=webhook needs AGENTOPS_REGISTRY_WEBHOOK"),
        ("mlflow", "AGENTOPS_REGISTRY=mlflow needs AGENTOPS_REGISTRY_MLFLOW_URI"),
        ("table", "the table registry needs the store's engine"),
        ("nexus", "AGENTOPS_REGISTRY: unknown registry 'nexus'"),
    ],
)
def test_a_kind_without_its_setting_is_a_config_error(kind: Any, needs: str) -> None:
    with pytest.raises(ConfigError, match=needs):
        build_registry(kind)


@pytest.mark.parametrize("missing", ["mlflow", "alembic"])  # alembic: MLflow's SQL stores
def test_mlflow_without_the_client_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # importing it now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'agentops\[mlflow\]'"):
        build_registry("mlflow", mlflow_uri="sqlite:///unused.db")
