"""deploy/compose.yaml (watch workers + PostgreSQL), deploy/Dockerfile and .env.example,
checked the way a deploy would break: a service that names no agentops command or a missing
option, a state URL that points nowhere, a dependency on a health check nobody defines, a
setting spelled wrong or missing from the example, an empty value that quietly configures."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from agentops.settings import Settings
from tests.unit.deploy.conftest import ROOT, check_command

COMPOSE = ROOT / "deploy" / "compose.yaml"
EXAMPLE = ROOT / ".env.example"
SETTINGS = {
    str(field.validation_alias.choices[0])  # type: ignore[union-attr]
    for field in Settings.model_fields.values()
}
COMPOSE_ONLY = {"AGENTOPS_PG_PASSWORD"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())  # resolves the x-agentops anchor and `<<`
    assert isinstance(loaded, dict)
    return loaded


def _agentops_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("agentops")
    }


def _example() -> dict[str, str]:
    """The example's settings: NAME=value lines, and `# NAME=value` ones (unset)."""
    found = {}
    for line in EXAMPLE.read_text().splitlines():
        match = re.match(r"^(?:# )?([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_every_service_is_complete_and_its_dependencies_exist(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "migrate", "watch", "serve"} <= set(services)
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in declared or source.startswith((".", "/")), f"{name}: {volume}"
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no health check"
            elif rule["condition"] == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} would never complete"
            else:
                assert rule["condition"] == "service_started"


def test_agentops_services_run_real_commands_from_the_repository_image(
    compose: dict[str, Any],
) -> None:
    services = _agentops_services(compose)
    assert set(services) == {"migrate", "watch", "serve"}
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["agentops"\]$', dockerfile, re.MULTILINE)
    for name, service in services.items():
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        assert context == ROOT.resolve(), f"{name}: build from the repository root"
        assert (context / service["build"]["dockerfile"]).is_file()
        check_command(service["command"])
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["watch"]["command"][0] == "watch"
    assert "ports" not in services["watch"] and "container_name" not in services["watch"], (
        "watch scales (--scale watch=N): no fixed name or host port"
    )
    assert services["watch"]["stop_signal"] == "SIGTERM"


def test_the_image_copies_what_exists_and_finds_its_runbooks() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE)
    for sources in copies:
        for source in sources.split():
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    runbooks = re.search(r"AGENTOPS_RUNBOOKS_DIR=(\S+)", dockerfile)
    assert runbooks and re.search(rf"^COPY runbooks {runbooks.group(1)}\b", dockerfile, re.M)


def test_the_workers_state_store_is_the_compose_postgres(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]["environment"]
    for name, service in _agentops_services(compose).items():
        env = service["environment"]
        unknown = {k for k in env if k.startswith("AGENTOPS_")} - SETTINGS
        assert unknown == set(), f"{name}: no such setting {unknown}"
        url = make_url(re.sub(r"\$\{[^}]*\}", "secret", env["AGENTOPS_STATE_URL"]))
        assert url.get_backend_name() == "postgresql"
        assert (url.host, url.username, url.database) == (
            "postgres",
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_DB"],
        )
        assert (COMPOSE.parent / service["env_file"]).resolve() == ROOT / ".env"


def test_every_variable_compose_needs_is_in_the_example() -> None:
    needed = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))
    assert needed and needed <= set(_example())


def test_the_example_documents_every_setting_and_nothing_else() -> None:
    example = _example()
    assert set(example) >= SETTINGS, f"undocumented: {sorted(SETTINGS - set(example))}"
    assert set(example) - SETTINGS <= COMPOSE_ONLY, "a name agentops does not read"
    empty = [line for line in EXAMPLE.read_text().splitlines() if re.match(r"^[A-Z_]+=$", line)]
    assert empty == [], "an empty value is a value: comment unset lines out"


def test_the_example_as_written_loads_and_configures_nothing_by_accident(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for line in EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]+)=(.+)$", line)
        if match:
            monkeypatch.setenv(match.group(1), match.group(2))
    loaded = Settings.load()
    assert loaded.resolved_model == "offline"
    assert loaded.slack_token is None and loaded.github_token is None
    assert loaded.smtp_host is None and loaded.openai_api_key is None
    assert loaded.resolved_state_url.startswith("postgresql://")
    assert loaded.home == Path("/var/lib/agentops")
