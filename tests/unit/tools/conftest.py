from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from agentops.domain import Alert, AlertType, Incident, Severity
from tests.conftest import seeded_stores

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    """The upstream_data_change world, seeded once: the tools only read."""
    folder: Path = tmp_path_factory.mktemp("tools")
    return seeded_stores(folder, "upstream_data_change").monitoring


@pytest.fixture
def incident() -> Incident:
    alert = Alert(
        type=AlertType.feature_drift,
        severity=Severity.P2,
        model_name="classifier_v2",
        component="V14",
        metric="psi",
        value=0.8,
        threshold=0.3,
        window_start=datetime(2026, 11, 20, 11, tzinfo=UTC),
        window_end=NOW,
    )
    return Incident(
        incident_id="INC-2026-1120-1",
        model_name="classifier_v2",
        severity=Severity.P2,
        alert_types=[AlertType.feature_drift],
        alerts=[alert],
        opened_at=NOW,
    )
