"""What the nodes use that outlives one run: settings, the two databases, chat models, the
runbook index and incident search. Built once per graph, each piece on first use, so a
graph that never diagnoses never loads the embeddings model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from langchain_core.language_models import BaseChatModel
from langchain_core.retrievers import BaseRetriever

from agentops.actions.policy import Policy, load_policy
from agentops.agents.model import make_chat_model
from agentops.detection import ThresholdSet, load_threshold_set
from agentops.errors import AgentOpsError
from agentops.settings import Settings
from agentops.store import Stores, open_monitoring, open_state


@dataclass
class Services:
    settings: Settings
    allow_auto_approve: bool = False
    trust_local_identity: bool = True
    _stores: Stores | None = None
    _models: dict[str, BaseChatModel | None] = field(default_factory=dict)
    _index: Any = None
    _index_error: str | None = None

    @property
    def stores(self) -> Stores:
        """Opened on first use: the monitoring database must exist (never created here) and
        the state store is created or checked for its schema version."""
        if self._stores is None:
            self._stores = Stores(
                monitoring=open_monitoring(self.settings.resolved_database_url),
                state=open_state(self.settings.resolved_state_url),
            )
        return self._stores

    @property
    def monitoring(self) -> sa.Engine:
        return self.stores.monitoring

    @property
    def state(self) -> sa.Engine:
        return self.stores.state

    def thresholds(self) -> ThresholdSet:
        # read per run: a changed policy file applies to the next incident without a restart
        return load_threshold_set(self.settings)

    def policy(self) -> Policy:
        """The policy file's escalation matrix, SLAs, channels and people (read per call)."""
        return load_policy(self.settings)

    def chat_model(self, name: str | None) -> BaseChatModel | None:
        """The run's model: Context.model, else AGENTOPS_MODEL; None means offline."""
        chosen = name or self.settings.resolved_model
        if chosen not in self._models:
            self._models[chosen] = make_chat_model(
                self.settings.model_copy(update={"model": chosen})
            )
        return self._models[chosen]

    def model_label(self, name: str | None) -> str:
        """What reasons for a run: the model's id, or 'rules' (the offline analyzers)."""
        from agentops.agents.model import model_id

        model = self.chat_model(name)
        return model_id(model) if model is not None else "rules"

    def runbook_index(self) -> Any | None:
        """The runbook index, or None with the reason kept for the report."""
        if self._index is None and self._index_error is None:
            from agentops.rag import RunbookIndex

            try:
                self._index = RunbookIndex.open(self.settings)
            except AgentOpsError as exc:
                self._index_error = str(exc)
        return self._index

    @property
    def index_error(self) -> str | None:
        return self._index_error

    def runbook_retriever(self) -> BaseRetriever | None:
        index = self.runbook_index()
        # k=5: the runbook tool lets the model ask for up to five passages
        return index.as_retriever(k=5) if index is not None else None

    def similar_incidents(
        self, text: str, k: int = 3, exclude: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """Past incidents like `text`. Errors propagate: the tool turns them into an error
        result the model reads, rather than an empty list that looks like "none found"."""
        from agentops.rag import similar_incidents

        hits = similar_incidents(self.monitoring, self.settings, text, k, exclude=exclude)
        return [hit.model_dump(mode="json") for hit in hits]
