"""The one exception hierarchy of agentops.

    AgentOpsError
    ├── ConfigError        a setting or config file is wrong (names the variable / key)
    ├── DataError          input data is wrong: bad rows, missing tables, unknown columns
    │   └── StoreError     the database cannot be reached or queried
    ├── IndexError_        the runbook index is missing, stale or corrupt (says how to fix)
    ├── IntegrationError   an outside service failed
    │   ├── SlackError
    │   ├── GitHubError
    │   └── EmailError
    └── ApprovalError      an approval resume is invalid (unknown decision, unauthorized approver)

Expected failures raise these with a message a user can act on; the CLI prints the message
on one line and exits 1. Anything else is a bug: the CLI prints one line naming the file that keeps its traceback.

ConfigError, DataError and ApprovalError are also ValueErrors: the LangGraph server shows a
ValueError's message to the caller (Studio, the SDK) and hides every other exception's as
"An internal error occurred".
"""

from __future__ import annotations


class AgentOpsError(Exception):
    """Base class: every error agentops raises on purpose."""


class ConfigError(AgentOpsError, ValueError):
    """A setting or a config file holds a bad value."""


class DataError(AgentOpsError, ValueError):
    """Input data is wrong: a bad row, a missing table, an unknown column."""


class StoreError(DataError):
    """The metrics store cannot be reached or a query against it failed."""


class IndexError_(AgentOpsError):
    """The runbook/incident index is missing, stale or corrupt."""


class IntegrationError(AgentOpsError):
    """An outside service (Slack, GitHub, SMTP, a webhook) failed."""


class SlackError(IntegrationError):
    """Slack refused or failed a call."""


class GitHubError(IntegrationError):
    """GitHub refused or failed a call."""


class EmailError(IntegrationError):
    """The SMTP server refused or failed."""


class ApprovalError(AgentOpsError, ValueError):
    """An approval resume is invalid."""
