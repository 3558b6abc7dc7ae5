"""The typed result every tool returns to the model, serialised as compact JSON.

Expected failures (no rows, a refused query, a toolset that is not configured) come back as
values the model can read and act on; only bugs raise.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

# A tool result the model reads must stay small: a few KB, summarised, never a table dump.
MAX_RESULT_CHARS = 4000

ToolStatus = Literal["ok", "error", "no_data"]


class ToolResult(BaseModel):
    status: ToolStatus
    data: Any = None
    error: str | None = None
    evidence_ids: list[str] = Field(
        default_factory=list, description="ids the model may cite in its diagnosis"
    )
    truncated: bool = False

    @classmethod
    def ok(cls, data: Any, evidence_ids: list[str] | None = None) -> ToolResult:
        return cls(status="ok", data=data, evidence_ids=evidence_ids or [])

    @classmethod
    def no_data(cls, why: str) -> ToolResult:
        return cls(status="no_data", error=why)

    @classmethod
    def fail(cls, why: str) -> ToolResult:
        return cls(status="error", error=why)

    def to_json(self, limit: int = MAX_RESULT_CHARS) -> str:
        """Compact JSON within `limit` characters: list data is cut from the end if needed."""
        text = self.model_dump_json(exclude_none=True)
        if len(text) <= limit:
            return text
        data = self.data
        if isinstance(data, dict):
            data = dict(data)
            for key, value in sorted(
                data.items(), key=lambda kv: -len(json.dumps(kv[1], default=str))
            ):
                while isinstance(value, list) and len(value) > 1:
                    value = value[: max(1, len(value) // 2)]
                    data[key] = value
                    trimmed = self.model_copy(update={"data": data, "truncated": True})
                    text = trimmed.model_dump_json(exclude_none=True)
                    if len(text) <= limit:
                        return text
        elif isinstance(data, list):
            while len(data) > 1:
                data = data[: max(1, len(data) // 2)]
                trimmed = self.model_copy(update={"data": data, "truncated": True})
                text = trimmed.model_dump_json(exclude_none=True)
                if len(text) <= limit:
                    return text
        # last resort: a text preview the model can still read
        size = limit // 2
        while True:
            preview = self.model_copy(update={"data": text[:size], "truncated": True})
            out = preview.model_dump_json(exclude_none=True)
            if len(out) <= limit or size <= 100:
                return out
            size //= 2


def parse_tool_result(text: str) -> ToolResult | None:
    """A ToolResult back from its JSON (None when the text is something else)."""
    try:
        return ToolResult.model_validate_json(text)
    except ValueError:
        return None
