"""The LangGraph server image: `langgraph dockerfile` run offline on a copy of the repository
(with the local clutter a developer's checkout has: a virtualenv, a local store, a .env with a
secret, .git) gives a Dockerfile that installs the package, names the graphs, the auth and
the Slack app, and whose build context — the copy filtered by .dockerignore, as Docker
sends it — holds the package and none of that clutter."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.unit.deploy.conftest import ROOT

SHIPPED = ["langgraph.json", "pyproject.toml", "README.md", ".dockerignore", ".env.example"]
CLUTTER = {
    ".venv/bin/python": "#!/bin/sh\n",
    ".venv/lib/python3.11/site-packages/x.py": "",
    ".agentops/state.db": "sqlite",
    ".agentops/postmortems/INC-1.md": "",
    ".env": "AGENTOPS_SLACK_TOKEN=xoxb-real-secret\n",
    ".env.production": "AGENTOPS_SMTP_PASSWORD=hunter2\n",
    ".git/config": "[core]\n",
    ".langgraph_api/store.pckl": "",
    "agentops/__pycache__/cli.cpython-311.pyc": "",
    "monitoring.db": "",
    "tests/test_x.py": "",
}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what the repository ships, plus a developer's local clutter."""
    root = tmp_path_factory.mktemp("image") / "agentops"
    root.mkdir()
    for name in SHIPPED:
        shutil.copy2(ROOT / name, root / name)
    for folder in ("agentops", "runbooks", "evals"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in CLUTTER.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _offline(command: list[str]) -> list[str]:
    """In a network namespace of its own when the machine allows it: nothing is fetched."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"]).returncode == 0:
        return ["unshare", "-n", *command]
    return command


@pytest.fixture(scope="module")
def dockerfile(checkout: Path) -> str:
    langgraph = Path(sys.executable).parent / "langgraph"
    target = checkout.parent / "Dockerfile"
    done = subprocess.run(
        _offline([str(langgraph), "dockerfile", str(target), "-c", "langgraph.json"]),
        cwd=checkout,
        capture_output=True,
        text=True,
        env={**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return target.read_text()


def _env(dockerfile: str, name: str) -> dict[str, object]:
    found = re.search(rf"^ENV {name}='(.*)'$", dockerfile, re.MULTILINE)
    assert found, f"the Dockerfile sets no {name}"
    return dict(json.loads(found.group(1)))


def _defined(checkout: Path, reference: str) -> None:
    """`/deps/<name>/path/to/file.py:attr` exists in the copy and assigns or defines attr."""
    path, attr = reference.rsplit(":", 1)
    local = checkout / Path(path).relative_to(f"/deps/{checkout.name}")
    assert local.is_file(), f"{reference}: no file {local}"
    pattern = rf"^(?:{attr}\s*(?::[^=]+)?=|def {attr}\b|class {attr}\b)"
    assert re.search(pattern, local.read_text(), re.MULTILINE), f"{reference}: no {attr}"


def test_the_dockerfile_runs_the_graphs_with_auth_and_the_slack_app(
    checkout: Path, dockerfile: str
) -> None:
    config = json.loads((checkout / "langgraph.json").read_text())
    python = config["python_version"]
    assert dockerfile.startswith(f"FROM langchain/langgraph-api:{python}")
    required = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]
    assert required["requires-python"] == f">={python}"
    auth = _env(dockerfile, "LANGGRAPH_AUTH")
    _defined(checkout, str(auth["path"]))
    assert str(auth["path"]).endswith("agentops/server/auth.py:auth")
    _defined(checkout, str(_env(dockerfile, "LANGGRAPH_HTTP")["app"]))
    graphs = _env(dockerfile, "LANGSERVE_GRAPHS")
    assert "incident" in graphs
    for reference in graphs.values():
        _defined(checkout, str(reference))
    assert f"ADD . /deps/{checkout.name}" in dockerfile
    for local in (".venv", ".agentops", ".env", ".git"):
        assert local not in dockerfile


# ---- the build context, as Docker's .dockerignore rules select it --------------------------
def _pattern(text: str) -> re.Pattern[str]:
    """Docker's pattern syntax: `*` and `?` stay inside one path segment, `**` spans any."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        elif text[i] == "[":
            end = text.index("]", i)
            out, i = out + text[i : end + 1], end + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(f"^{out}$")


def build_context(root: Path) -> set[str]:
    """The files `docker build` sends for `root`: a file is left out when it or one of its
    folders matches a pattern; the last matching pattern wins (`!` puts it back)."""
    rules = []
    for line in (root / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _pattern(os.path.normpath(line.lstrip("!")).lstrip("/"))))
    sent = set()
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        parts = relative.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for negated, pattern in rules:
            if any(pattern.match(prefix) for prefix in prefixes):
                excluded = not negated
        if not excluded:
            sent.add(relative)
    return sent


def test_the_build_context_holds_the_package_and_no_secret_or_local_state(
    checkout: Path,
) -> None:
    sent = build_context(checkout)
    leaked = sorted(name for name in CLUTTER if name in sent)
    assert leaked == [], "local clutter in the image"
    assert ".env.example" in sent, "the documented settings ship"
    for needed in ("pyproject.toml", "README.md", "langgraph.json", "agentops/server/auth.py"):
        assert needed in sent
    runbooks = {p.relative_to(checkout).as_posix() for p in (checkout / "runbooks").glob("*")}
    assert runbooks and runbooks <= sent, "the runbooks the default AGENTOPS_RUNBOOKS_DIR reads"
    package = {p.relative_to(checkout).as_posix() for p in (checkout / "agentops").rglob("*.py")}
    assert package <= sent


def test_the_context_rules_read_as_docker_reads_them(tmp_path: Path) -> None:
    """The matcher above, on Docker's documented examples (it must be able to fail)."""
    (tmp_path / ".dockerignore").write_text("*/temp*\n**/*.go\n*.md\n!README.md\n")
    for name in ("a/temporary.txt", "a/b/temp.txt", "x.go", "a/b/y.go", "N.md", "README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert build_context(tmp_path) == {".dockerignore", "a/b/temp.txt", "README.md"}
