"""PyGithub against the stand-in GitHub: the tracking issue, labels, the post-mortem update."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agentops.actions import Senders, build_senders, deliver_pending, execute, publish_postmortem
from agentops.domain import Action, ActionType, Diagnosis, RootCauseCategory
from agentops.settings import Settings
from agentops.store import Stores, queries
from tests.conftest import make_stores
from tests.fakes.github_server import FakeGitHub, running_github
from tests.unit.actions.builders import NOW, drift_incident, make_settings, store_incident

pytestmark = pytest.mark.integration
OPEN = Action(type=ActionType.open_github_issue, target="github")
DIAGNOSIS = Diagnosis(
    category=RootCauseCategory.upstream_data_change,
    root_cause="vendor feed changed V14's units",
    confidence=0.8,
)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with running_github("acme/fraud-ml") as fake:
        yield fake


@pytest.fixture
def cfg(tmp_path: Path, github: FakeGitHub) -> Settings:
    return make_settings(
        tmp_path / "home",
        github_token="ghp_test",
        github_repo="acme/fraud-ml",
        github_base_url=github.base_url,
    )


@pytest.fixture
def store(cfg: Settings) -> Stores:
    eng = make_stores(cfg)
    store_incident(eng, drift_incident())
    return eng


@pytest.fixture
def senders(cfg: Settings) -> Senders:
    return build_senders(cfg, backoff_s=0.01, pace=False)


def test_the_tracking_issue_carries_severity_and_category_labels(
    store: Stores, cfg: Settings, senders: Senders, github: FakeGitHub
) -> None:
    context = {"diagnosis": DIAGNOSIS.model_dump()}
    result = execute(store, cfg, drift_incident(), OPEN, now=NOW, context=context, senders=senders)
    assert result.status == "succeeded"
    (issue,) = github.issues.values()
    assert issue["title"] == "[P1] INC-2026-1120-1: Model Drift — classifier_v2"
    assert issue["labels"] == ["P1", "upstream_data_change"]
    assert "vendor feed changed V14's units" in issue["body"]
    assert {auth for _, _, auth in github.requests} == {"token ghp_test"}
    execute(store, cfg, drift_incident(), OPEN, now=NOW, context=context, senders=senders)
    assert len(github.issues) == 1


def test_the_postmortem_updates_the_same_issue_once(
    store: Stores, cfg: Settings, senders: Senders, github: FakeGitHub
) -> None:
    incident = drift_incident()
    execute(store, cfg, incident, OPEN, now=NOW, senders=senders)
    resolved = incident.model_copy(update={"resolved_at": NOW + timedelta(minutes=45)})
    for _ in range(2):
        publish_postmortem(
            store, cfg, resolved, "# Post-Mortem: INC-2026-1120-1", now=NOW, senders=senders
        )
    (issue,) = github.issues.values()
    assert issue["body"] == "# Post-Mortem: INC-2026-1120-1"
    assert issue["title"].endswith("(resolved)")
    assert issue["edits"] == 1
    assert "postmortem" in issue["labels"]


def test_without_an_earlier_issue_the_postmortem_creates_one(
    store: Stores, cfg: Settings, senders: Senders, github: FakeGitHub
) -> None:
    publish_postmortem(store, cfg, drift_incident(), "# Post-Mortem", now=NOW, senders=senders)
    assert [i["body"] for i in github.issues.values()] == ["# Post-Mortem"]


def test_a_github_outage_queues_the_issue_and_the_postmortem_waits_for_it(
    store: Stores, cfg: Settings, senders: Senders, github: FakeGitHub
) -> None:
    github.fail_next(502, times=10)
    incident = drift_incident()
    first = execute(store, cfg, incident, OPEN, now=NOW, senders=senders)
    assert first.status == "queued" and "too many 502 error responses" in first.detail
    publish_postmortem(
        store, cfg, incident, "# Post-Mortem", now=NOW + timedelta(seconds=1), senders=senders
    )
    assert github.issues == {}
    github.recover()
    deliver_pending(store.state, cfg, now=NOW + timedelta(hours=1), senders=senders)
    (issue,) = github.issues.values()
    assert issue["body"] == "# Post-Mortem" and issue["edits"] == 1
    with store.state.connect() as conn:
        assert {r["status"] for r in queries.messages_for(conn)} == {"sent"}
