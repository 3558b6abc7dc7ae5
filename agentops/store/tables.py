"""SQLAlchemy Core tables: the contract's six, plus the registry, the ledger and the outbox.

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
    # added by agentops (the contract allows additions)
    sa.Column("status", sa.String(20), nullable=False, server_default="open"),
    sa.Column("fingerprints", sa.Text, doc="JSON list of alert fingerprints"),
    sa.Column("alerts", sa.Text, doc="JSON list of Alert records"),
    sa.Column("thread_id", sa.String(100), doc="LangGraph thread handling it"),
    sa.Column("timeline", sa.Text, doc="JSON list of TimelineEntry records"),
    sa.Column("updated_at", sa.DateTime),
)

# ---- agentops's own tables -----------------------------------------------------------------
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

action_log = sa.Table(
    "action_log",
    metadata,
    sa.Column("idempotency_key", sa.String(400), primary_key=True),
    sa.Column("incident_id", sa.String(40), nullable=False),
    sa.Column("action_type", sa.String(40), nullable=False),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, doc="started / succeeded / failed / ..."),
    sa.Column("approved_by", sa.String(200)),
    sa.Column("detail", sa.Text),
    sa.Column("result", sa.Text, doc="JSON ActionResult once finished"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("message_id", sa.String(400), primary_key=True, doc="idempotency key"),
    sa.Column("incident_id", sa.String(40)),
    sa.Column("channel", sa.String(20), nullable=False, doc="slack / github / email"),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, doc="queued / sent / outbox / failed"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("external_ref", sa.String(200), doc="Slack ts, GitHub issue number, ..."),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    # added by actions/: delivery details (thread root, labels, ledger key) and retry backoff
    sa.Column("meta", sa.Text, doc="JSON: thread_of, labels, ledger_key, ..."),
    sa.Column("next_attempt_at", sa.DateTime, doc="a failed send is retried after this"),
)

retrain_jobs = sa.Table(
    "retrain_jobs",
    metadata,
    sa.Column("job_id", sa.String(100), primary_key=True),
    sa.Column("incident_id", sa.String(40)),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("train_start", sa.DateTime, nullable=False),
    sa.Column("train_end", sa.DateTime, nullable=False),
    sa.Column("excluded_start", sa.DateTime),
    sa.Column("excluded_end", sa.DateTime),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
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
    ("ix_action_log_incident", "action_log", ("incident_id",)),
    ("ix_messages_status", "messages", ("status", "created_at")),
)
