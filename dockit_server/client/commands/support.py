"""Small pieces the explain, keys, audit, tokens, robot and token commands share: user
names, durations, times, expiry options, and a clear message when the server is older than
this command."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from libdockit.clock import rfc3339_exact
from libdockit.model import USER_PREFIX

from ..errors import ApiError, CliError, NotFoundError, UsageError

if TYPE_CHECKING:
    from .common import Context

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


def add_expiry_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    """``--expires-in``, ``--expires-at`` and ``--never`` (one of them) on ``parser``."""
    expiry = parser.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires-in",
        metavar="DURATION",
        help=f"{what} stops working after this long, e.g. 30d, 12h, 1d12h",
    )
    expiry.add_argument(
        "--expires-at",
        metavar="TIME",
        help=f"{what} stops working at this time: 2026-12-31 (midnight UTC) or "
        "2026-12-31T18:00:00Z",
    )
    expiry.add_argument(
        "--never",
        action="store_true",
        help=f"{what} never expires (only where the server's settings allow it)",
    )


def expiry_body(args: argparse.Namespace) -> dict[str, object]:
    """The Admin API fields of the expiry options that were given."""
    if args.never:
        return {"never": True}
    if args.expires_in is not None:
        seconds = int(parse_duration(args.expires_in).total_seconds())
        if seconds <= 0:
            raise UsageError("--expires-in must be more than zero, e.g. 30d")
        return {"expires_in": seconds}
    if args.expires_at is not None:
        return {"expires_at": _future_time(args.expires_at)}
    return {}


def _future_time(raw: str) -> str:
    try:
        moment = datetime.fromisoformat(raw.strip().replace("z", "Z"))
    except ValueError:
        raise UsageError(
            f"--expires-at must be a time such as 2026-12-31 or 2026-12-31T18:00:00Z; not {raw!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return rfc3339_exact(moment)


def lifetime_body(raw: str | None) -> dict[str, object]:
    """``access_token_lifetime`` from ``--token-lifetime`` (a duration), when given."""
    if raw is None:
        return {}
    seconds = int(parse_duration(raw).total_seconds())
    if seconds <= 0:
        raise UsageError("--token-lifetime must be more than zero, e.g. 1h")
    return {"access_token_lifetime": seconds}


def emit_secret(ctx: Context, document: dict[str, Any], about: str) -> None:
    """A new secret, once: on stdout, alone (``-o table``: so ``$(dockit ...)`` captures
    it) or in the JSON object; ``about`` and a warning that it is not shown again go to
    stderr."""
    secret = document.get("secret")
    if not isinstance(secret, str):
        raise CliError("the server's answer holds no secret")
    ctx.note(about)
    ctx.note("the secret is shown this once: store it now (Dockit keeps only its hash)")
    ctx.output.emit(document, lambda: secret)
