"""``dockit explain``: what a token request would be granted, action by action, and why.

``dockit explain USER SCOPE...`` asks ``GET /api/v1/explain?user=USER&scope=...`` (one
``scope`` parameter per SCOPE); ``dockit explain --anonymous SCOPE...`` asks for a caller
without credentials, ``--robot NAME SCOPE...`` for a robot account and ``--pat ID
SCOPE...`` for a personal access token (its owner's grants narrowed to its scopes). The
answer comes from the same policy as ``/v2/token``, without the user's password. ``-o
json`` prints the Admin API's answer as it is.

``dockit explain --federated POLICY --claims FILE`` (or ``--token FILE``, ``-`` for stdin)
asks ``POST /api/v1/trust-policies/POLICY/explain``: which of the trust policy's conditions
the claims meet, what its grants become (for a policy that names a robot account: whether
the robot may act now, and its grants as they are), and for a token whether it verifies.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import output
from ..errors import UsageError
from ..http import quote
from .common import Context, add_command
from .support import username
from .trust_policies import read_document

if TYPE_CHECKING:
    from .common import Subparsers

SCOPE_HELP = "TYPE:NAME:ACTIONS as in a token request, e.g. repository:team/app:pull,push"


def _words(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """``(user name or None for anonymous, scopes)`` from the positional arguments."""
    words: list[str] = list(args.words)
    chosen = [flag for flag in ("anonymous", "robot", "pat") if getattr(args, flag)]
    if len(chosen) > 1:
        raise UsageError(f"give one of --{chosen[0]} and --{chosen[1]}, not both")
    if chosen:
        return None, words
    if len(words) < 2:
        raise UsageError(
            "name a USER and at least one SCOPE, e.g. dockit explain alice "
            "repository:team/app:pull (or --anonymous SCOPE... for a caller without credentials)"
        )
    return username(words[0]), words[1:]


def explain(ctx: Context) -> int:
    if ctx.args.federated is not None:
        return explain_federated(ctx)
    if ctx.args.claims is not None or ctx.args.token is not None:
        raise UsageError("--claims and --token go with --federated POLICY")
    user, scopes = _words(ctx.args)
    query: list[tuple[str, str]] = [] if user is None else [("user", user)]
    if ctx.args.robot:
        query.append(("robot", ctx.args.robot))
    if ctx.args.pat:
        query.append(("pat", ctx.args.pat))
    query.extend(("scope", scope) for scope in scopes)
    answer = ctx.client().get("/explain", query)
    ctx.output.emit(answer, lambda: explanation_text(answer))
    return 0


def explain_federated(ctx: Context) -> int:
    args = ctx.args
    if args.words or args.anonymous:
        raise UsageError("--federated POLICY takes no USER or SCOPE: give --claims or --token")
    if (args.claims is None) == (args.token is None):
        raise UsageError("give --claims FILE or --token FILE (- for stdin) with --federated")
    body: dict[str, Any]
    if args.claims is not None:
        claims = read_document(args.claims, "--claims")
        if not isinstance(claims, dict):
            raise UsageError(f"--claims {args.claims} must hold one object (the token's claims)")
        body = {"claims": claims}
    else:
        token = read_document_text(args.token)
        body = {"token": token}
    path = f"/trust-policies/{quote(args.federated)}/explain"
    answer = ctx.client().post(path, body)
    ctx.output.emit(answer, lambda: federated_text(answer))
    return 0


def read_document_text(source: str) -> str:
    """A token from a file (``-``: stdin), surrounding white space removed."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read --token {source}: {error.strerror}") from None
    return text.strip()


def federated_text(answer: dict[str, Any]) -> str:
    token = answer.get("token")
    pairs = [("trust policy", output.text(answer.get("policy")))]
    if isinstance(token, dict):
        if token.get("verified"):
            who = ", ".join(f"{key} {token.get(key)}" for key in ("issuer", "sub", "jti", "kid"))
            pairs.append(("token", f"verified ({who})"))
        else:
            pairs.append(("token", f"NOT verified: {token.get('reason')}"))
    met = all(c.get("met") for c in answer.get("conditions") or [])
    pairs.append(("conditions", "all met" if met else "NOT all met"))
    robot = answer.get("robot")
    if isinstance(robot, dict):
        state = "usable" if robot.get("usable") else f"NOT usable: {robot.get('refusal')}"
        pairs.append(("acts as", f"robot:{robot.get('name')} ({state})"))
    pairs.append(("token lifetime", f"at most {answer.get('token_lifetime')}s"))
    conditions = output.table(
        ["CLAIM", "MUST", "MET"],
        [
            [
                str(c.get("claim")),
                ("match " if c.get("glob") else "equal ") + str(c.get("value")),
                output.yes_no(c.get("met")),
            ]
            for c in answer.get("conditions") or []
        ],
    )
    if isinstance(robot, dict):
        return output.fields(pairs) + "\n\n" + conditions + "\n\n" + _robot_grants(robot)
    grants = output.table(
        ["TEMPLATE", "ACTIONS", "BECOMES"],
        [
            [
                str(g.get("template")),
                ",".join(g.get("actions") or []),
                str(g.get("pattern")) if g.get("pattern") is not None else "- (claim unusable)",
            ]
            for g in answer.get("grants") or []
        ],
    )
    return output.fields(pairs) + "\n\n" + conditions + "\n\n" + grants


def _robot_grants(robot: dict[str, Any]) -> str:
    """The grants a policy's robot acts with now: its own and the public ones."""
    grants = robot.get("grants") or []
    if not grants:
        return f"robot:{robot.get('name')} has no grants (and there are no public ones)"
    return output.table(
        ["SUBJECT", "TYPE", "PATTERN", "ACTIONS"],
        [
            [
                str(g.get("subject")),
                str(g.get("resource_type")),
                str(g.get("pattern")),
                ",".join(g.get("actions") or []),
            ]
            for g in grants
        ],
    )


def _account(answer: dict[str, Any]) -> str:
    account = answer.get("account")
    credential = answer.get("credential")
    if isinstance(credential, dict) and credential.get("kind") == "robot":
        return "none: a robot account"
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


def _credential(answer: dict[str, Any]) -> list[tuple[str, str]]:
    credential = answer.get("credential")
    if not isinstance(credential, dict):
        return []
    if credential.get("kind") == "robot":
        about = f"robot account {credential.get('name')} (owner {credential.get('owner')})"
    else:
        about = f"personal access token {credential.get('id')} ({credential.get('name')})"
    state = "enabled" if credential.get("enabled") else "disabled"
    expiry = credential.get("expires_at") or "never"
    return [("credential", output.text(f"{about}, {state}, expires {expiry}"))]


def explanation_text(answer: dict[str, Any]) -> str:
    pairs = [
        *_credential(answer),
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
        "       dockit explain [options] --anonymous SCOPE [SCOPE ...]\n"
        "       dockit explain [options] --robot NAME SCOPE [SCOPE ...]\n"
        "       dockit explain [options] --pat ID SCOPE [SCOPE ...]\n"
        "       dockit explain [options] --federated POLICY (--claims FILE | --token FILE)",
    )
    parser.add_argument(
        "words",
        nargs="*",
        metavar="USER SCOPE",
        help="a user name (or user:NAME), then one or more scopes: " + SCOPE_HELP,
    )
    parser.add_argument(
        "--anonymous",
        action="store_true",
        help="explain for a caller without credentials: every argument is a SCOPE",
    )
    parser.add_argument(
        "--federated",
        metavar="POLICY",
        help="explain a workload's token under trust policy POLICY: which conditions its "
        "claims meet and what its grants become",
    )
    parser.add_argument(
        "--claims", metavar="FILE", help="with --federated: the claims, JSON or YAML (- stdin)"
    )
    parser.add_argument(
        "--token",
        metavar="FILE",
        help="with --federated: a token (JWT) to verify and explain (- for stdin)",
    )
    parser.add_argument(
        "--robot",
        metavar="NAME",
        help="explain for this robot account: every argument is a SCOPE",
    )
    parser.add_argument(
        "--pat",
        metavar="ID",
        help="explain for this personal access token (as dockit token list shows its id): "
        "every argument is a SCOPE",
    )
