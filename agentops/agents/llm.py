"""What both agents share around a chat model: usage metering, calling within the incident's
time budget, JSON answers."""

from __future__ import annotations

import importlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from agentops.clock import iso, parse_instant, utcnow
from agentops.domain import LLMUsage


@dataclass
class Meter:
    """Counts LLM calls, tokens and tool calls for one agent run."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tool_calls: int = 0

    def record(self, message: AIMessage) -> None:
        self.calls += 1
        usage: dict[str, Any] = dict(message.usage_metadata or {})
        self.tokens_in += int(usage.get("input_tokens") or 0)
        self.tokens_out += int(usage.get("output_tokens") or 0)

    def usage(self) -> LLMUsage:
        return LLMUsage(
            calls=self.calls,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            tool_calls=self.tool_calls,
        )

    def dump(self) -> dict[str, int]:
        """As a subgraph's state keeps it between steps (`Meter(**dumped)` reads it back)."""
        return asdict(self)


class UnusableReply(ValueError):
    """The model answered with something that is not a chat message."""


@lru_cache(maxsize=1)
def model_failures() -> tuple[type[BaseException], ...]:
    """What "the model failed" means, and all it means: the errors of the model clients and
    HTTP transports that are installed (refused, failed, throttled or timed-out requests),
    timeouts and dropped connections, and answers that cannot be parsed (ValueError:
    malformed JSON, LangChain's OutputParserException, UnusableReply). Anything else is a bug
    of ours and must surface, not be reported as "the LLM failed". Looked up on the first
    failure, so an offline run never imports the clients."""
    found: list[type[BaseException]] = [TimeoutError, ConnectionError, ValueError]
    for module, name in (
        ("openai", "OpenAIError"),
        ("anthropic", "AnthropicError"),
        ("httpx", "HTTPError"),
        ("httpx", "StreamError"),
        ("requests", "RequestException"),
    ):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def call(runnable: Runnable[Any, Any], messages: list[BaseMessage], meter: Meter) -> AIMessage:
    """One model call, metered. Any failure propagates: the agent decides the fallback."""
    try:
        reply = runnable.invoke(messages)
    except Exception:
        meter.calls += 1  # a failed request still counts: it may have been billed
        raise
    if not isinstance(reply, AIMessage):
        raise UnusableReply(f"the model returned {type(reply).__name__}, not an AI message")
    meter.record(reply)
    return reply


T = TypeVar("T")


class BudgetExceeded(Exception):
    """The model did not finish within the incident's diagnosis budget."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within the diagnosis budget ({seconds:g} s)")
        self.seconds = seconds


def within(seconds: float, work: Callable[[], T]) -> T:
    """`work()` if it finishes within `seconds`, else BudgetExceeded.

    The work runs on a daemon thread: a hung HTTP call (or its retries) cannot hold the
    incident past its SLA, and an abandoned call cannot keep the process from exiting.
    Exceptions from `work` propagate to the caller.
    """
    if seconds <= 0:
        raise BudgetExceeded(seconds)
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the caller's thread, which decides
            box["error"] = exc

    worker = threading.Thread(target=run, name="agentops-llm", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise BudgetExceeded(seconds)
    if "error" in box:
        raise box["error"]
    return box["value"]


def deadline_after(seconds: float) -> str:
    """The wall-clock instant `seconds` from now, as a subgraph's state keeps it (a resumed
    agent goes on counting against the same budget)."""
    return iso(utcnow() + timedelta(seconds=max(seconds, 0.0)))


def seconds_left(deadline: str) -> float:
    return (parse_instant(deadline, what="deadline") - utcnow()).total_seconds()


def call_within(
    runnable: Runnable[Any, Any], messages: list[BaseMessage], meter: Meter, deadline: str
) -> AIMessage:
    """One model call given at most the time left before `deadline`: BudgetExceeded when
    none is left or the call outlasts it (a hung call is abandoned and counted)."""
    left = seconds_left(deadline)
    try:
        return within(left, lambda: call(runnable, messages, meter))
    except BudgetExceeded:
        if left > 0:
            meter.calls += 1  # the request went out and may be billed
        raise


def bind(model: BaseChatModel, tools: list[Any]) -> Runnable[Any, Any]:
    return model.bind_tools(tools)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def json_from_text(text: str) -> Any:
    """The JSON value in a plain-text answer (bare, or in a ``` fence), else None."""
    text = text.strip()
    candidates = [*(m.group(1) for m in _FENCE.finditer(text)), text]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


def failure_reason(exc: BaseException) -> str:
    """A one-line reason for a report: the error's type and its first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 160 else text[:159] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def message_text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        part.get("text", "") if isinstance(part, dict) else str(part) for part in content
    )
