"""Time in one place: the clock parts take, "now" as aware UTC, and the RFC 3339 texts
Dockit writes (answers and views at second precision; the CLI's filters keep fractions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

#: What "now" is for a part: :func:`utc_now`, or a test's clock.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive value is taken to be UTC already (as the SQL backend stores it)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@lru_cache(maxsize=4)  # every token issued in one second shares it: strftime costs more
def rfc3339(moment: datetime) -> str:
    """UTC, second precision, ``Z`` suffix (e.g. ``2024-05-01T12:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_exact(moment: datetime) -> str:
    """``2024-05-01T12:00:00Z``: UTC, with fractions of a second only when there are any."""
    return moment.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"
