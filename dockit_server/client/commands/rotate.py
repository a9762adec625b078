"""``dockit keys rotate``: a new signing key without refused tokens.

1. Create a pending key: it is published in the certificate bundle but does not sign.
2. Tell the operator to re-run the init step and restart every registry, so that they
   trust the new key's certificate.
3. Wait ``--activate-after DURATION`` (a countdown on a terminal), then activate the key,
   which retires the old one (still published until the tokens it signed have expired).

There is no default delay: activating before the registries have restarted makes them
refuse every new token, so the command wants ``--activate-after DURATION`` (``0`` to
activate at once, knowingly) or ``--no-wait``, which stops after step 2 and prints the
``dockit keys activate KID`` to run later. Ctrl-C while waiting leaves the key pending.
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from libdockit.clock import rfc3339_exact

from ..errors import ConflictError, UsageError
from .common import Context
from .key_common import RESTART_STEPS, create_body, list_keys, path, summary, warn_expiring
from .support import format_duration, parse_duration

#: Longer waits belong to --no-wait and a later ``dockit keys activate``.
MAX_WAIT = timedelta(hours=24)
INTERRUPTED = 130

# Module globals, so tests can wait without waiting.
_sleep = time.sleep
_monotonic = time.monotonic


def _delay(raw: str) -> timedelta:
    try:
        delay = parse_duration(raw)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    if delay > MAX_WAIT:
        raise argparse.ArgumentTypeError(
            "at most 24h; to wait longer, use --no-wait and run `dockit keys activate KID` later"
        )
    return delay


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Create a pending key (published, not signing), tell what to restart, wait DURATION "
        "and activate the key, which retires the active one. Say how long registries need "
        "to restart with the new bundle (--activate-after 10m), or --no-wait to activate it "
        "yourself later. --activate-after 0 activates at once: registries that have not "
        "restarted then refuse every new token."
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--activate-after",
        type=_delay,
        metavar="DURATION",
        help="wait this long, then activate: 90s, 10m, 1h30m (at most 24h); 0 at once",
    )
    when.add_argument(
        "--no-wait",
        action="store_true",
        help="only create the key and print the `dockit keys activate KID` to run later",
    )


def _say(ctx: Context, text: str) -> None:
    """A step for people, at once: on stdout, or on stderr when stdout carries JSON."""
    if ctx.output.json:
        ctx.note(text)
    else:
        ctx.stdout.write(text + "\n")
        ctx.stdout.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def wait(stream: TextIO, delay: timedelta, kid: str, *, terminal: bool) -> None:
    """Sleep ``delay``; on a terminal with a countdown line, elsewhere with one message."""
    seconds = delay.total_seconds()
    if not terminal:
        until = rfc3339_exact(datetime.now(UTC).replace(microsecond=0) + delay)
        stream.write(
            f"waiting {format_duration(delay)} (until {until}) before activating key {kid}; "
            "Ctrl-C leaves it pending\n"
        )
        stream.flush()
        _sleep(seconds)
        return
    deadline = _monotonic() + seconds
    try:
        while (left := deadline - _monotonic()) > 0:
            shown = format_duration(timedelta(seconds=math.ceil(left)))
            stream.write(f"\ractivating key {kid} in {shown} (Ctrl-C leaves it pending)\x1b[K")
            stream.flush()
            _sleep(min(1.0, left - math.floor(left) or 1.0))
    except KeyboardInterrupt:
        stream.write("\n")
        stream.flush()
        raise
    stream.write("\r\x1b[K")
    stream.flush()


def rotate(ctx: Context) -> int:
    args = ctx.args
    if args.activate_after is None and not args.no_wait:
        raise UsageError(
            "say when to activate the new key: --activate-after DURATION, long enough for "
            "every registry to restart with the new bundle (e.g. 10m), or --no-wait to "
            "activate it yourself later. --activate-after 0 activates at once, and registries "
            "that have not restarted refuse the tokens it signs"
        )
    client = ctx.client()
    before = list_keys(ctx)
    for key in before:
        if key.get("state") == "pending":
            ctx.note(
                f"note: key {key.get('kid')} is pending already (created {key.get('created_at')}); "
                "rotate creates another one"
            )
    key = client.post("/keys", create_body(args))
    kid = str(key.get("kid"))
    activate_later = f"dockit keys activate {kid}"
    _say(ctx, f"created key {summary(key)}: published in the bundle, not signing yet")
    _say(ctx, f"now {RESTART_STEPS}")
    warn_expiring(ctx, [key])
    if args.no_wait:
        later = f"when every registry has restarted, activate it: {activate_later}"
        if ctx.output.json:
            ctx.note(later)
        ctx.output.emit(key, lambda: later)
        return 0
    delay: timedelta = args.activate_after
    if delay:
        try:
            wait(ctx.stderr, delay, kid, terminal=_is_terminal(ctx.stderr))
        except KeyboardInterrupt:
            ctx.note(
                f"dockit keys rotate: interrupted; key {kid} stays pending (published, not "
                f"signing). When every registry has restarted: {activate_later}"
            )
            return INTERRUPTED
    else:
        ctx.note(
            "warning: activating at once (--activate-after 0): registries that have not "
            "restarted with the new bundle refuse the tokens it signs"
        )
    return _activate(ctx, kid, before)


def _activate(ctx: Context, kid: str, before: list[dict[str, Any]]) -> int:
    client = ctx.client()
    key = client.get(path(kid))
    if key.get("state") == "retired":
        raise ConflictError(f"key {kid} was retired while waiting; it was not activated")
    if key.get("state") != "active":
        key = client.post(f"{path(kid)}/activate", {})
    previous = [str(k.get("kid")) for k in before if k.get("state") == "active"]
    retired = (
        f"; the previous key {', '.join(previous)} is retired and stays published until the "
        "tokens it signed have expired"
        if previous
        else ""
    )
    ctx.output.emit(key, lambda: f"activated key {summary(key)}: it signs new tokens{retired}")
    return 0
