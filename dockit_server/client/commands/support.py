"""Small pieces the explain, keys, audit and tokens commands share: user names, durations,
times, and a clear message when the server is older than this command."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from libdockit.clock import rfc3339_exact
from libdockit.model import USER_PREFIX

from ..errors import ApiError, NotFoundError, UsageError

_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (86400, 3600, 60, 1)


def username(raw: str) -> str:
    """``alice`` or ``user:alice`` as the plain user name the Admin API's paths take."""
    name = raw.removeprefix(USER_PREFIX)
    if not name:
        raise UsageError(f"name a user: {raw!r}")
    return name


def parse_duration(raw: str) -> timedelta:
    """``90s``, ``10m``, ``1h30m``, ``2d`` (units d, h, m, s in that order) or ``0``."""
    text = raw.strip().lower()
    if text == "0":
        return timedelta(0)
    match = _DURATION_RE.fullmatch(text)
    if not text or match is None:
        raise UsageError(f"not a duration: {raw!r} (write e.g. 90s, 10m, 1h30m or 2d; 0 for none)")
    seconds = sum(
        int(part) * unit for part, unit in zip(match.groups(), _UNITS, strict=True) if part
    )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """``1h30m``, ``10m``, ``45s``, ``0s``: whole seconds, largest units first."""
    left = max(0, int(value.total_seconds()))
    parts = []
    for unit, name in zip(_UNITS, "dhms", strict=True):
        amount, left = divmod(left, unit)
        if amount:
            parts.append(f"{amount}{name}")
    return "".join(parts) or "0s"


def parse_time(raw: str, option: str, now: Callable[[], datetime]) -> str:
    """An RFC 3339 UTC time from ``2024-05-01T12:00:00Z`` (no zone: UTC), ``2024-05-01``
    (midnight UTC) or a time ago such as ``90m``, ``1h`` or ``2d``."""
    text = raw.strip()
    if re.fullmatch(r"[0-9]+[dhms].*", text):
        return rfc3339_exact(now() - parse_duration(text))
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise UsageError(
            f"{option} must be a time such as 2024-05-01T12:00:00Z or 2024-05-01, or a time "
            f"ago such as 30m, 1h or 2d; not {raw!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return rfc3339_exact(moment)


@contextmanager
def newer_route(url: str, route: str) -> Iterator[None]:
    """Say that the server is older than this command when ``route`` is not one of its
    routes (falcon's plain 404), rather than "404 Not Found" about a user that exists."""
    try:
        yield
    except ApiError as exc:
        if exc.no_route:
            raise NotFoundError(
                f"Dockit at {url} has no {route}: it is older than this dockit command "
                "(upgrade the server, or use a dockit command of its version)"
            ) from None
        raise
