"""What ``dockit keys`` and ``dockit keys rotate`` share: calls, views and warnings."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .. import output
from ..errors import CliError
from ..http import quote
from .common import Context

#: A published key whose certificate has fewer days left than this is warned about.
EXPIRY_WARNING_DAYS = 30
#: Keys in these states are in the bundle for good (retired ones only until their tokens
#: expire, and they no longer sign), so their certificates' expiry matters.
PUBLISHED_STATES = ("pending", "active")

RESTART_STEPS = (
    "re-run the init step so the certificate bundle has the new key's certificate "
    "(`dockit init-container PATH`, or restart the pod or compose service that runs it), "
    "then restart every registry that reads the bundle, so that they trust tokens the new "
    "key signs"
)


def path(kid: str) -> str:
    return f"/keys/{quote(kid)}"


def list_keys(ctx: Context) -> list[dict[str, Any]]:
    client = ctx.client()
    items = client.get("/keys").get("items")
    if not isinstance(items, list):
        raise CliError(f"unexpected answer from {client.url}/api/v1/keys: not a list of keys")
    return [item for item in items if isinstance(item, dict)]


def create_body(args: argparse.Namespace) -> dict[str, Any]:
    """``POST /keys``'s body from --algorithm and --validity-days (absent: the defaults)."""
    body: dict[str, Any] = {}
    if args.algorithm is not None:
        body["algorithm"] = args.algorithm
    if args.validity_days is not None:
        body["validity_days"] = args.validity_days
    return body


def days_left(key: dict[str, Any]) -> str:
    value = key.get("days_left")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.1f}"
    return "-"


def key_rows(keys: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["KID", "ALGORITHM", "STATE", "DAYS LEFT", "CREATED", "ACTIVATED", "RETIRED"]
    rows = [
        [
            str(k.get("kid")),
            output.text(k.get("algorithm")),
            output.text(k.get("state")),
            days_left(k),
            output.text(k.get("created_at")),
            output.text(k.get("activated_at")),
            output.text(k.get("retired_at")),
        ]
        for k in keys
    ]
    return headers, rows


def key_fields(key: dict[str, Any]) -> str:
    return output.fields(
        [
            ("kid", str(key.get("kid"))),
            ("algorithm", output.text(key.get("algorithm"))),
            ("state", output.text(key.get("state"))),
            ("expires", f"{output.text(key.get('not_after'))} ({days_left(key)} days left)"),
            ("created", output.text(key.get("created_at"))),
            ("activated", output.text(key.get("activated_at"))),
            ("retired", output.text(key.get("retired_at"))),
        ]
    )


def summary(key: dict[str, Any]) -> str:
    """``KID (ES256, pending, 365.0 days left)``."""
    return (
        f"{key.get('kid')} ({key.get('algorithm')}, {key.get('state')}, {days_left(key)} days left)"
    )


def warn_expiring(ctx: Context, keys: Sequence[dict[str, Any]]) -> None:
    """On stderr: each pending or active key whose certificate expires within 30 days."""
    for key in keys:
        left = key.get("days_left")
        if key.get("state") not in PUBLISHED_STATES or not isinstance(left, int | float):
            continue
        if left >= EXPIRY_WARNING_DAYS:
            continue
        when = (
            f"expired on {key.get('not_after')}"
            if left <= 0
            else f"expires in {left:.1f} days ({key.get('not_after')})"
        )
        ctx.note(
            f"warning: the certificate of the {key.get('state')} key {key.get('kid')} {when}; "
            "no token outlives it. Rotate to a new key: dockit keys rotate --activate-after "
            "DURATION"
        )
