"""What both agents share around a chat model: usage metering, calling, JSON answers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

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


def call(runnable: Runnable[Any, Any], messages: list[BaseMessage], meter: Meter) -> AIMessage:
    """One model call, metered. Any failure propagates: the agent decides the fallback."""
    try:
        reply = runnable.invoke(messages)
    except Exception:
        meter.calls += 1  # a failed request still counts: it may have been billed
        raise
    if not isinstance(reply, AIMessage):
        raise TypeError(f"the model returned {type(reply).__name__}, not an AI message")
    meter.record(reply)
    return reply


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
