"""``dockit tokens ...``: a user's refresh tokens, the identity tokens ``docker login`` keeps.

* ``tokens list USER``: ``GET /api/v1/users/{USER}/refresh-tokens`` (every page), newest
  first;
* ``tokens revoke TOKEN_ID``: ``DELETE /api/v1/refresh-tokens/{TOKEN_ID}``;
* ``tokens revoke-all USER``: ``DELETE /api/v1/users/{USER}/refresh-tokens``.

A token's id is public (it is not the token); revoking needs no confirmation, as it is what
to do at once about a lost laptop, and costs the user only a new ``docker login``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import output
from ..errors import CliError
from ..http import quote
from .common import Context, add_command
from .support import newer_route, username

if TYPE_CHECKING:
    from .common import Subparsers

_AFTER_REVOKE = "a docker login that used it must log in again"


def _user_path(raw: str) -> str:
    return f"/users/{quote(username(raw))}/refresh-tokens"


def token_rows(tokens: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["ID", "SOURCE", "SERVICE", "CLIENT", "CREATED", "LAST USED", "EXPIRES"]
    rows = [
        [
            str(t.get("id")),
            output.text(t.get("source") or "local"),
            output.text(t.get("service")),
            output.text(t.get("client_id")),
            output.text(t.get("created_at")),
            t.get("last_used_at") or "never",
            t.get("expires_at") or "never",
        ]
        for t in tokens
    ]
    return headers, rows


def list_tokens(ctx: Context) -> int:
    name = username(ctx.args.user)
    client = ctx.client()
    with newer_route(client.url, "GET /api/v1/users/{username}/refresh-tokens"):
        tokens = client.list_all(_user_path(name))
    ctx.output.listing(tokens, token_rows, f"{name} has no refresh tokens")
    return 0


def revoke(ctx: Context) -> int:
    token_id = ctx.args.token_id
    client = ctx.client()
    with newer_route(client.url, "DELETE /api/v1/refresh-tokens/{token_id}"):
        client.delete(f"/refresh-tokens/{quote(token_id)}")
    document = {"id": token_id, "revoked": True}
    ctx.output.emit(document, lambda: f"revoked refresh token {token_id}; {_AFTER_REVOKE}")
    return 0


def revoke_all(ctx: Context) -> int:
    name = username(ctx.args.user)
    client = ctx.client()
    with newer_route(client.url, "DELETE /api/v1/users/{username}/refresh-tokens"):
        answer = client.delete(_user_path(name))
    count = answer.get("revoked") if isinstance(answer, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        raise CliError(f"unexpected answer from {client.url}: no count of revoked tokens")
    plural = "" if count == 1 else "s"
    ctx.output.emit(
        answer,
        lambda: (
            f"revoked {count} refresh token{plural} of {name}"
            + (f"; every docker login of {name} with one must log in again" if count else "")
        ),
    )
    return 0


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    tokens = commands.add_parser(
        "tokens",
        help="list and revoke users' refresh tokens (docker login identity tokens)",
        description="Refresh tokens are what `docker login` stores as an identity token; "
        "each is bound to one user and one service. Revoking one makes that login ask for "
        "the password again.",
    )
    sub = tokens.add_subparsers(dest="tokens_command", required=True, metavar="COMMAND")

    command = partial(add_command, sub, group="tokens", parents=[common])

    user_help = "a user name (or user:NAME)"
    command("list", list_tokens, "list a user's refresh tokens").add_argument(
        "user", help=user_help
    )
    command("revoke", revoke, "revoke one refresh token by its id").add_argument(
        "token_id", help="as `dockit tokens list` shows it"
    )
    command("revoke-all", revoke_all, "revoke every refresh token of a user").add_argument(
        "user", help=user_help
    )
