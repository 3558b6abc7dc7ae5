"""The chat model behind the agents: `offline` (none), or `provider:model` via LangChain."""

from __future__ import annotations

from typing import Any

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel

from agentops.errors import ConfigError
from agentops.settings import Settings


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """None when the model is `offline` (the agents then use the deterministic analyzers).

    `openai:<model>` talks to OpenAI, or to any OpenAI-compatible server (vLLM, Ollama,
    LM Studio) at OPENAI_BASE_URL. Every model gets the configured timeout and a bounded
    number of retries, so a dead server costs seconds, not a hung incident.
    """
    spec = settings.resolved_model
    if spec == "offline":
        return None
    provider, _, name = spec.partition(":")
    kwargs: dict[str, Any] = {
        "timeout": settings.llm_timeout_s,
        "max_retries": settings.llm_max_retries,
    }
    if provider == "openai":
        key = settings.openai_api_key
        if key is None and not settings.openai_base_url:
            raise ConfigError(
                f"AGENTOPS_MODEL={spec} needs OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
                "OpenAI-compatible server; or set AGENTOPS_MODEL=offline"
            )
        # local OpenAI-compatible servers accept any key; the client insists on one
        kwargs["api_key"] = key.get_secret_value() if key is not None else "unused"
        if settings.openai_base_url:
            kwargs["base_url"] = settings.openai_base_url
    try:
        model = init_chat_model(name, model_provider=provider, **kwargs)
    except ImportError as exc:
        raise ConfigError(
            f"AGENTOPS_MODEL={spec}: the LangChain package for {provider!r} is not installed "
            f"({exc}); install it or use openai:<model>"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"AGENTOPS_MODEL={spec}: {str(exc).splitlines()[0]}") from None
    if not isinstance(model, BaseChatModel):  # a configurable model: not what we asked for
        raise ConfigError(f"AGENTOPS_MODEL={spec}: did not resolve to a chat model")
    return model


def model_id(model: BaseChatModel) -> str:
    """`provider:model` for reports, e.g. `openai:gpt-4o-mini`."""
    try:
        params = model._get_ls_params()
    except (AttributeError, NotImplementedError):  # no LangSmith params: the class name will do
        return type(model).__name__
    provider = params.get("ls_provider") or type(model).__name__
    name = params.get("ls_model_name") or "?"
    return f"{provider}:{name}"
