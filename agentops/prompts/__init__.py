"""Prompt templates, one Markdown file per agent role, rendered by a pure function.

Templates use `$name` placeholders (string.Template). Rendering reads no clock and no
environment: everything a prompt shows is passed in, so a replay renders the same text.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template


@cache
def _template(name: str) -> Template:
    text = resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")
    return Template(text)


def render(name: str, **values: object) -> str:
    """The template `agentops/prompts/<name>.md` with every `$placeholder` filled.

    A missing value is a bug in the caller and raises KeyError naming it.
    """
    return _template(name).substitute({k: str(v) for k, v in values.items()})


__all__ = ["render"]
