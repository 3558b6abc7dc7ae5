"""Tables that fit an 80-column terminal: ids are never cut, free text wraps between words.

Rich squeezes the columns that may wrap before it cuts the others, so every id or code
column is `whole` (never wrapped) and the table keeps few enough of them to fit in 80
columns; a cell holds two short values on two lines where one line has no room.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.table import Column, Table

if TYPE_CHECKING:
    from rich.console import JustifyMethod


def table(*columns: Column, title: str | None = None, rows_apart: bool = False) -> Table:
    """A light table: a rule under the header, no frame (the frame costs 3 columns a cell)."""
    return Table(
        *columns,
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        leading=1 if rows_apart else 0,
    )


def whole(header: str, *, justify: JustifyMethod = "left") -> Column:
    """An id, a name or a code: shown whole, never wrapped or cut."""
    return Column(header, no_wrap=True, justify=justify)


def wrapped(header: str) -> Column:
    """Free text: wraps between words to the room the `whole` columns leave (a word longer
    than all that room is folded: nothing is lost)."""
    return Column(header, overflow="fold")


def when(value: datetime | str | None) -> str:
    """A UTC time to the minute, `2026-11-20 12:00`: it reads in a narrow column."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return f"{value:%Y-%m-%d %H:%M}"


def shorten(value: str | None, width: int) -> str:
    """At most `width` characters, cut between words with an ellipsis."""
    return textwrap.shorten(value or "", width, placeholder=" …")
