"""The state store's tables: what agentops itself owns (AGENTOPS_STATE_URL).

Incidents as the lifecycle handles them (claims, leases, timeline, what each waits for), the
action ledger, the outbox, retraining jobs, silences, worker heartbeats, recorded approval
answers and stored post-mortems. The monitoring tables (CONTRACT.md) stay in the monitoring
database (`store.tables`); INCIDENTS there receives a copy of each incident's contract
columns (`store.incidents.mirror`).

Every name starts with `agentops_`, so the state store may share a database with the
monitoring tables without a clash. This is the schema at the newest version;
`store.migrations` builds it step by step and records the version.
"""

from __future__ import annotations

import sqlalchemy as sa

state_metadata = sa.MetaData()

incidents = sa.Table(
    "agentops_incidents",
    state_metadata,
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
    sa.Column("status", sa.String(20), nullable=False, server_default="open"),
    sa.Column("fingerprints", sa.Text, doc="JSON list of alert fingerprints"),
    sa.Column("alerts", sa.Text, doc="JSON list of Alert records"),
    sa.Column("thread_id", sa.String(100), doc="the LangGraph thread handling it"),
    sa.Column("timeline", sa.Text, doc="JSON list of TimelineEntry records"),
    sa.Column("updated_at", sa.DateTime),
    # version 2: the truthful lifecycle
    sa.Column("first_breach_at", sa.DateTime, doc="start of the first breaching window"),
    sa.Column("remediated_at", sa.DateTime, doc="recovery counts windows ending after this"),
    sa.Column("waiting_for", sa.String(20), doc="approval / recovery / person / None"),
    sa.Column("waiting_detail", sa.Text),
    sa.Column("lease_owner", sa.String(200), doc="the worker running its thread now"),
    sa.Column("lease_until", sa.DateTime, doc="wall clock; an expired lease is taken over"),
    sa.Column("parent_id", sa.String(40), doc="the storm incident it belongs to"),
    sa.Column("owner", sa.String(200), doc="the person who acknowledged it"),
)

action_log = sa.Table(
    "agentops_action_log",
    state_metadata,
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
    # version 2: how the approver's identity was verified (cli / server / slack)
    sa.Column("approved_via", sa.String(40)),
)

messages = sa.Table(
    "agentops_messages",
    state_metadata,
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
    sa.Column("meta", sa.Text, doc="JSON: thread_of, labels, ledger_key, blocks, ..."),
    sa.Column("next_attempt_at", sa.DateTime, doc="a failed send is retried after this"),
    # version 2: the order messages were written in (many share one pass's clock)
    sa.Column("seq", sa.Integer),
)

retrain_jobs = sa.Table(
    "agentops_retrain_jobs",
    state_metadata,
    sa.Column("job_id", sa.String(100), primary_key=True),
    sa.Column("incident_id", sa.String(40)),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("train_start", sa.DateTime, nullable=False),
    sa.Column("train_end", sa.DateTime, nullable=False),
    sa.Column("excluded_start", sa.DateTime),
    sa.Column("excluded_end", sa.DateTime),
    sa.Column(
        "status",
        sa.String(20),
        nullable=False,
        doc="waiting / starting / triggered / recorded / deciding / promoted / refused / failed",
    ),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # version 2: what the job waits for (an upstream fix), its parameters and window as JSON,
    # when it started, and the result its trainer reported (the promotion gate's input)
    sa.Column("waiting_for", sa.Text),
    sa.Column("params", sa.Text),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("detail", sa.Text, doc="the latest outcome in words"),
    sa.Column("result", sa.Text, doc="JSON: the trainer's result and the gate's verdict"),
)

# ---- version 2 -------------------------------------------------------------------------------
silences = sa.Table(
    "agentops_silences",
    state_metadata,
    sa.Column("silence_id", sa.String(40), primary_key=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("alert_type", sa.String(40), doc="None: every alert of the model"),
    sa.Column("kind", sa.String(20), nullable=False, doc="silence / retired"),
    sa.Column("starts_at", sa.DateTime, nullable=False),
    sa.Column("until", sa.DateTime, doc="None: until lifted (retired models)"),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("lifted_at", sa.DateTime),
)

workers = sa.Table(
    "agentops_workers",
    state_metadata,
    sa.Column("worker_id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False, doc="watch / run / serve / server"),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("last_beat", sa.DateTime, nullable=False),
    sa.Column("last_pass_at", sa.DateTime),
    sa.Column("last_pass_status", sa.String(20), doc="ok / error / running"),
    sa.Column("detail", sa.Text),
)

answers = sa.Table(
    "agentops_answers",
    state_metadata,
    sa.Column("answer_id", sa.String(64), primary_key=True),
    sa.Column("incident_id", sa.String(40), nullable=False),
    sa.Column("thread_id", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False, doc="approval / control"),
    sa.Column("action_key", sa.String(400)),
    sa.Column("decision", sa.String(40), nullable=False),
    sa.Column("person", sa.String(200), nullable=False),
    sa.Column("via", sa.String(40), nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("applied_at", sa.DateTime, doc="the thread took it; None: the next pass will"),
    sa.Column("outcome", sa.Text),
)

postmortems = sa.Table(
    "agentops_postmortems",
    state_metadata,
    sa.Column("incident_id", sa.String(40), primary_key=True),
    sa.Column("markdown", sa.Text, nullable=False),
    sa.Column("chart_png", sa.LargeBinary),
    sa.Column("written_at", sa.DateTime, nullable=False),
)

schema_version = sa.Table(
    "agentops_schema_version",
    state_metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

STATE_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_agentops_incidents_status", "agentops_incidents", ("status", "opened_at")),
    ("ix_agentops_incidents_model", "agentops_incidents", ("model_name", "opened_at")),
    ("ix_agentops_action_log_incident", "agentops_action_log", ("incident_id",)),
    ("ix_agentops_messages_status", "agentops_messages", ("status", "created_at")),
    ("ix_agentops_messages_incident", "agentops_messages", ("incident_id",)),
    ("ix_agentops_answers_thread", "agentops_answers", ("thread_id", "applied_at")),
)
