"""A bad row in the monitoring tables is told once to the data-alerts channel — never paged,
never repeated on the next pass."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from agentops.settings import Settings
from agentops.store.state_tables import messages
from tests.conftest import NOW, make_stores
from tests.unit.graph.conftest import incidents, run_pass

ROW = sa.text(
    "INSERT INTO model_metrics (model_name, model_version, window_start, window_end, f1, "
    "precision, recall, error_rate, latency_p50_ms, latency_p99_ms, request_count, status) "
    "VALUES ('fraud_v4', '1', '2026-11-20 11:00:00', '2026-11-20 12:00:00', -3, 0.9, 0.8, "
    "0.01, 40, 300, 1000, 'up')"
)


def test_a_bad_row_is_told_once_to_data_alerts_and_pages_nobody(graph_settings: Settings) -> None:
    stores = make_stores(graph_settings)
    with stores.monitoring.begin() as conn:
        conn.execute(ROW)
    report = run_pass(graph_settings)
    run_pass(graph_settings, NOW + timedelta(minutes=5))

    assert report.paged == [] and incidents(stores) == []
    with stores.state.connect() as conn:
        sent = conn.execute(sa.select(messages.c.target, messages.c.text)).all()
    [(target, text)] = sent
    assert target == "#data-alerts"
    assert "MODEL_METRICS fraud_v4" in text and "f1 = -3.0" in text and "🚨" not in text
