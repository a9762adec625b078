"""``dockit keys ...``: signing keys through ``/api/v1/keys``.

A key is *pending* (published in the certificate bundle, not signing), *active* (the one
key that signs) or *retired* (published until the tokens it signed have expired). Rotating
without refused tokens takes three steps: create a pending key, let every registry restart
with a bundle that has its certificate, then activate it (which retires the old key).
``dockit keys rotate`` does them in order; see :mod:`.rotate`.
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import TYPE_CHECKING

from ..errors import NotFoundError
from . import rotate
from .common import Context, add_command
from .key_common import (
    RESTART_STEPS,
    create_body,
    key_fields,
    key_rows,
    list_keys,
    path,
    summary,
    warn_expiring,
)

if TYPE_CHECKING:
    from .common import Subparsers

ALGORITHMS = ("ES256", "RS256")


def list_command(ctx: Context) -> int:
    keys = list_keys(ctx)
    ctx.output.listing(keys, key_rows, "no keys")
    warn_expiring(ctx, keys)
    return 0


def show(ctx: Context) -> int:
    key = ctx.client().get(path(ctx.args.kid))
    ctx.output.emit(key, lambda: key_fields(key))
    warn_expiring(ctx, [key])
    return 0


def create(ctx: Context) -> int:
    key = ctx.client().post("/keys", create_body(ctx.args))
    kid = key.get("kid")
    steps = f"next: {RESTART_STEPS}; then: dockit keys activate {kid}"
    if ctx.output.json:
        ctx.note(steps)
    ctx.output.emit(key, lambda: f"created key {summary(key)}: published, not signing yet\n{steps}")
    warn_expiring(ctx, [key])
    return 0


def activate(ctx: Context) -> int:
    keys = list_keys(ctx)
    target = next((k for k in keys if k.get("kid") == ctx.args.kid), None)
    if target is None:
        raise NotFoundError(f"key {ctx.args.kid} not found (see: dockit keys list)")
    if target.get("state") == "active":
        ctx.output.emit(target, lambda: f"key {summary(target)} is active already")
        return 0
    if target.get("state") == "retired":
        ctx.note(
            f"warning: key {target.get('kid')} was retired at {target.get('retired_at')}; if it "
            "has left the certificate bundle since, registries that restarted do not trust "
            f"it: {RESTART_STEPS}"
        )
    previous = [str(k.get("kid")) for k in keys if k.get("state") == "active"]
    key = ctx.client().post(f"{path(ctx.args.kid)}/activate", {})
    retired = (
        f"; the previous key {', '.join(previous)} is retired and stays published until the "
        "tokens it signed have expired"
        if previous
        else ""
    )
    ctx.output.emit(key, lambda: f"activated key {summary(key)}: it signs new tokens{retired}")
    warn_expiring(ctx, [key])
    return 0


def retire(ctx: Context) -> int:
    client = ctx.client()
    key = client.get(path(ctx.args.kid))
    if key.get("state") == "retired":
        ctx.output.emit(key, lambda: f"key {summary(key)} is retired already")
        return 0
    key = client.post(f"{path(ctx.args.kid)}/retire", {})
    ctx.output.emit(
        key,
        lambda: (
            f"retired key {summary(key)}: it does not sign; it stays in the bundle until "
            "the tokens it signed have expired, then leaves it"
        ),
    )
    return 0


def add_create_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--algorithm", choices=ALGORITHMS, help="of the new key (default: the server's, ES256)"
    )
    parser.add_argument(
        "--validity-days",
        type=int,
        metavar="N",
        help="days its certificate is valid, 1 to 3650 (default 365)",
    )


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    keys = commands.add_parser(
        "keys",
        help="list and rotate signing keys (Admin API)",
        description="Manage the keys Dockit signs tokens with. A new key is pending "
        "(published in the bundle, not signing) until activated; activating it retires the "
        "active key. Restart registries with the new bundle before activating: `keys rotate` "
        "does the steps in order.",
    )
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")

    command = partial(add_command, sub, group="keys", parents=[common])

    command("list", list_command, "list signing keys, oldest first (warns of expiring ones)")
    command("show", show, "show one key").add_argument("kid")
    add_create_options(command("create", create, "create a pending key: published, not signing"))
    command(
        "activate",
        activate,
        "make a key the one that signs; the active key is retired (restart registries first)",
    ).add_argument("kid")
    command(
        "retire", retire, "stop publishing a key once the tokens it signed have expired"
    ).add_argument("kid")
    rotate_parser = command(
        "rotate",
        rotate.rotate,
        "create a pending key, wait while registries restart with it, then activate it",
    )
    add_create_options(rotate_parser)
    rotate.add_options(rotate_parser)
