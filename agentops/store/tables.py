"""SQLAlchemy Core tables of the monitoring database: the contract's six plus MODEL_REGISTRY.

agentops's own operational tables (ledger, outbox, claims, ...) live in the state store:
`store.state_tables`.

Names are lower case so they stay unquoted (Snowflake folds them to upper case, SQLite
ignores case). Times are naive UTC in the database; `store.rows` converts at the boundary.
JSON-ish columns are TEXT holding JSON, which every dialect stores the same way.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# ---- the contract's tables -----------------------------------------------------------------
model_metrics = sa.Table(
    "model_metrics",
    metadata,
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(100)),
    sa.Column("window_start", sa.DateTime, nullable=False),
    sa.Column("window_end", sa.DateTime, nullable=False),
    sa.Column("f1", sa.Float),
    sa.Column("precision", sa.Float),
    sa.Column("recall", sa.Float),
    sa.Column("error_rate", sa.Float),
    sa.Column("latency_p50_ms", sa.Float),
    sa.Column("latency_p99_ms", sa.Float),
    sa.Column("request_count", sa.BigInteger),
    sa.Column("status", sa.String(20)),
    sa.PrimaryKeyConstraint("model_name", "window_start", name="pk_model_metrics"),
)

data_quality = sa.Table(
    "data_quality",
    metadata,
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("feature_name", sa.String(200), nullable=False),
    sa.Column("window_start", sa.DateTime, nullable=False),
    sa.Column("window_end", sa.DateTime, nullable=False),
    sa.Column("null_rate", sa.Float),
    sa.Column("row_count", sa.BigInteger),
    sa.Column("out_of_range_rate", sa.Float),
    sa.Column("schema_errors", sa.Integer),
    sa.PrimaryKeyConstraint("model_name", "feature_name", "window_start", name="pk_data_quality"),
)

feature_drift = sa.Table(
    "feature_drift",
    metadata,
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("feature_name", sa.String(200), nullable=False),
    sa.Column("window_start", sa.DateTime, nullable=False),
    sa.Column("window_end", sa.DateTime, nullable=False),
    sa.Column("psi", sa.Float),
    sa.PrimaryKeyConstraint("model_name", "feature_name", "window_start", name="pk_feature_drift"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("deployment_id", sa.String(100), primary_key=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(100), nullable=False),
    sa.Column("previous_version", sa.String(100)),
    sa.Column("deployed_at", sa.DateTime, nullable=False),
    sa.Column("deployed_by", sa.String(200)),
    sa.Column("description", sa.Text),
    sa.Column("status", sa.String(50)),
)

pipeline_runs = sa.Table(
    "pipeline_runs",
    metadata,
    sa.Column("run_id", sa.String(100), primary_key=True),
    sa.Column("pipeline_name", sa.String(200), nullable=False),
    sa.Column("model_name", sa.String(200)),
    sa.Column("source", sa.String(200)),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("rows_processed", sa.BigInteger),
    sa.Column("notes", sa.Text),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("incident_id", sa.String(40), primary_key=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("severity", sa.String(2), nullable=False),
    sa.Column("alert_types", sa.Text, nullable=False, doc="comma-separated"),
    sa.Column("root_cause_category", sa.String(40)),
    sa.Column("root_cause", sa.Text),
    sa.Column("resolution", sa.Text),
    sa.Column("opened_at", sa.DateTime, nullable=False),
    sa.Column("resolved_at", sa.DateTime),
    sa.Column("postmortem", sa.Text),
    # added by agentops (the contract allows additions): the lifecycle status, so a person
    # querying INCIDENTS sees which rows are still being handled
    sa.Column("status", sa.String(20), nullable=False, server_default="open"),
)

# ---- the built-in model registry (the demo's serving system; teams use MLflow, a command...)
model_registry = sa.Table(
    "model_registry",
    metadata,
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(100), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=False),
    sa.Column("promoted_at", sa.DateTime),
    sa.Column("status", sa.String(20), doc="good / bad: a rolled-back version is marked bad"),
    sa.PrimaryKeyConstraint("model_name", "model_version", name="pk_model_registry"),
)

# The tables an eval case or `db load-case` may fill, by the names the contract uses.
CONTRACT_TABLES: dict[str, sa.Table] = {
    "model_metrics": model_metrics,
    "data_quality": data_quality,
    "feature_drift": feature_drift,
    "deployments": deployments,
    "pipeline_runs": pipeline_runs,
    "incidents": incidents,
}
LOADABLE_TABLES: dict[str, sa.Table] = {**CONTRACT_TABLES, "model_registry": model_registry}

# Secondary indexes for the queries in `store.queries`. Snowflake has no indexes on standard
# tables (micro-partition pruning plays that role), so `init_schema` skips them there.
INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_model_metrics_end", "model_metrics", ("model_name", "window_end")),
    ("ix_data_quality_end", "data_quality", ("model_name", "window_end")),
    ("ix_feature_drift_end", "feature_drift", ("model_name", "window_end")),
    ("ix_deployments_model_time", "deployments", ("model_name", "deployed_at")),
    ("ix_pipeline_runs_model_time", "pipeline_runs", ("model_name", "started_at")),
    ("ix_incidents_model_time", "incidents", ("model_name", "opened_at")),
)
