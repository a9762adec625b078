"""``dockit token ...``: personal access tokens through ``/api/v1/tokens``.

Any user manages their own (``--username``/``$DOCKIT_USERNAME`` with their password; no
admin flag needed): ``create`` prints the secret once, alone on stdout (with ``-o json``:
in the object). A token can do what its owner can, narrowed to its ``--scope``s; log in
with the owner's name and the secret. An admin lists anyone's with ``--user`` and revokes
anyone's by id. (``dockit tokens`` is about refresh tokens: ``docker login``'s.)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import output
from ..http import quote
from .common import Context, add_command
from .support import add_expiry_options, emit_secret, expiry_body, lifetime_body, username

if TYPE_CHECKING:
    from .common import Subparsers


def token_rows(tokens: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["ID", "NAME", "SCOPES", "EXPIRES", "LAST USED", "FROM"]
    rows = [
        [
            output.text(t.get("id")),
            output.text(t.get("name")),
            output.names(t.get("scopes")) if t.get("scopes") else "(all of the owner's)",
            str(t.get("expires_at") or "never"),
            str(t.get("last_used_at") or "never"),
            output.text(t.get("last_used_from") or "-"),
        ]
        for t in tokens
    ]
    return headers, rows


def create(ctx: Context) -> int:
    args = ctx.args
    body: dict[str, Any] = {"name": args.name}
    if args.scope:
        body["scopes"] = list(args.scope)
    body |= expiry_body(args) | lifetime_body(args.token_lifetime)
    client = ctx.client()
    token = client.post("/tokens", body)
    owner = str(token.get("owner", "")).removeprefix("user:")
    emit_secret(
        ctx,
        token,
        f"created personal access token {token.get('id')} ({token.get('name')}, expires "
        f"{token.get('expires_at') or 'never'}); log in with: docker login -u {owner} "
        "--password-stdin REGISTRY",
    )
    return 0


def list_tokens(ctx: Context) -> int:
    client = ctx.client()
    if ctx.args.user:
        name = username(ctx.args.user)
        tokens = client.list_all(f"/users/{quote(name)}/tokens")
        empty = f"{name} has no personal access tokens"
    else:
        tokens = client.list_all("/tokens")
        empty = "you have no personal access tokens"
    ctx.output.listing(tokens, token_rows, empty)
    return 0


def revoke(ctx: Context) -> int:
    token_id = ctx.args.token_id
    ctx.client().delete(f"/tokens/{quote(token_id)}")
    document = {"id": token_id, "revoked": True}
    ctx.output.emit(
        document, lambda: f"revoked personal access token {token_id}; it no longer logs in"
    )
    return 0


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    token = commands.add_parser(
        "token",
        help="manage your personal access tokens (for docker login and CI)",
        description="A personal access token is a secret you log in to registries with, "
        "instead of your password: it can do what you can, narrowed to its scopes, expires, "
        "and is revoked on its own. Any user manages their own; no admin flag is needed.",
    )
    sub = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    command = partial(add_command, sub, group="token", parents=[common])

    new = command("create", create, "make a personal access token and print its secret (once)")
    new.add_argument("name", help="a label for it, e.g. laptop or github-actions")
    new.add_argument(
        "--scope",
        action="append",
        metavar="TYPE:PATTERN:ACTIONS",
        help="narrow it, e.g. repository:alice/**:pull (repeat for several; default: all "
        "your rights)",
    )
    add_expiry_options(new, what="the token (default: the longest the server allows)")
    new.add_argument(
        "--token-lifetime",
        metavar="DURATION",
        help="how long its access tokens live, e.g. 1h for long pushes (default: the server's)",
    )
    listing = command("list", list_tokens, "list your personal access tokens")
    listing.add_argument("--user", metavar="NAME", help="an admin: list this user's instead")
    command("revoke", revoke, "revoke a personal access token by its id").add_argument(
        "token_id",
        help="as `dockit token list` shows it (an id that starts with '-' goes after '--')",
    )
