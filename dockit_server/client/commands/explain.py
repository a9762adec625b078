"""``dockit explain``: what a token request would be granted, action by action, and why.

``dockit explain USER SCOPE...`` asks ``GET /api/v1/explain?user=USER&scope=...`` (one
``scope`` parameter per SCOPE); ``dockit explain --anonymous SCOPE...`` asks for a caller
without credentials. The answer comes from the same policy as ``/v2/token``, without the
user's password. ``-o json`` prints the Admin API's answer as it is.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .. import output
from ..errors import UsageError
from .common import Context, add_command
from .support import username

if TYPE_CHECKING:
    from .common import Subparsers

SCOPE_HELP = "TYPE:NAME:ACTIONS as in a token request, e.g. repository:team/app:pull,push"


def _words(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """``(user name or None for anonymous, scopes)`` from the positional arguments."""
    words: list[str] = list(args.words)
    if args.anonymous:
        return None, words
    if len(words) < 2:
        raise UsageError(
            "name a USER and at least one SCOPE, e.g. dockit explain alice "
            "repository:team/app:pull (or --anonymous SCOPE... for a caller without credentials)"
        )
    return username(words[0]), words[1:]


def explain(ctx: Context) -> int:
    user, scopes = _words(ctx.args)
    query: list[tuple[str, str]] = [] if user is None else [("user", user)]
    query.extend(("scope", scope) for scope in scopes)
    answer = ctx.client().get("/explain", query)
    ctx.output.emit(answer, lambda: explanation_text(answer))
    return 0


def _account(answer: dict[str, Any]) -> str:
    account = answer.get("account")
    if not isinstance(account, dict):
        return "none: a caller without credentials"
    if not account.get("local"):
        return "no local user of this name"
    return "local user, " + ("enabled" if account.get("enabled") else "disabled")


def _by(grants: object) -> str:
    if not isinstance(grants, list) or not grants:
        return "-"
    return "; ".join(
        f"{grant.get('subject')} {grant.get('scope')} (grant {output.text(grant.get('id'))})"
        for grant in grants
        if isinstance(grant, dict)
    )


def explanation_text(answer: dict[str, Any]) -> str:
    pairs = [
        ("subject", output.text(answer.get("subject"))),
        ("account", _account(answer)),
        ("groups considered", output.names(answer.get("groups"))),
    ]
    pairs.extend(("note", str(note)) for note in answer.get("notes") or [])
    rows = []
    for scope in answer.get("scopes") or []:
        # The scope without its actions, keeping a resource class such as repository(plugin).
        resource = str(scope.get("scope", "")).rsplit(":", 1)[0]
        for action in scope.get("actions") or []:
            rows.append(
                [
                    resource,
                    str(action.get("action")),
                    output.yes_no(action.get("granted")),
                    _by(action.get("grants")),
                ]
            )
    table = output.table(["RESOURCE", "ACTION", "GRANTED", "BY"], rows)
    return output.fields(pairs) + "\n\n" + table


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "explain",
        explain,
        "show what a user (or anonymous) would be granted, and by which grants",
        parents=[common],
        description="Show, for each action of each SCOPE, whether a token for USER would "
        "carry it and which grants (with their subject) give it, from the same policy as "
        "/v2/token. Also the groups that were considered and notes such as a disabled user.",
        usage="dockit explain [options] USER SCOPE [SCOPE ...]\n"
        "       dockit explain [options] --anonymous SCOPE [SCOPE ...]",
    )
    parser.add_argument(
        "words",
        nargs="+",
        metavar="USER SCOPE",
        help="a user name (or user:NAME), then one or more scopes: " + SCOPE_HELP,
    )
    parser.add_argument(
        "--anonymous",
        action="store_true",
        help="explain for a caller without credentials: every argument is a SCOPE",
    )
