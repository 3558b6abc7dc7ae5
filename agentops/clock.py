"""Time as an input: parsing instants and the one place the wall clock is read."""

from __future__ import annotations

from datetime import UTC, datetime

from agentops.errors import DataError


def utcnow() -> datetime:
    """The wall clock, in UTC. Only entry points call this; nodes take `now` as input."""
    return datetime.now(UTC).replace(microsecond=0)


def parse_instant(value: str | datetime, *, what: str = "time") -> datetime:
    """An aware UTC datetime from ISO-8601 text (a trailing Z is fine) or a datetime.

    Naive values are taken as UTC, since every table in the contract is in UTC.
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise DataError(f"{what}: {value!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    """ISO-8601 with a Z, as every table and report writes times."""
    return parse_instant(value).strftime("%Y-%m-%dT%H:%M:%SZ")
