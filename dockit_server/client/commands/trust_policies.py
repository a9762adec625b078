"""``dockit trust-policy ...``: workload-identity trust policies through
``/api/v1/trust-policies``.

A policy is given by options (``--issuer``, ``--audience``, ``--condition CLAIM=VALUE``,
``--grant PATTERN:ACTIONS`` or ``--robot NAME``, each repeatable where it is a list) or as a
whole document in a JSON or YAML file (``--file``, ``-`` for stdin), the Admin API's body;
options given with ``--file`` override its fields. ``update`` changes only the fields given
(a list option replaces the whole list; ``--no-conditions``, ``--no-grants`` and
``--no-static-jwks`` empty them) and sends the whole policy back (``PUT``). A policy gives
grants or a robot's grants, not both: ``update --robot NAME`` drops the grants, and
``update --grant ...`` the robot.

``dockit explain --federated POLICY --claims FILE`` (or ``--token FILE``) is in
:mod:`.explain`; it shares :func:`read_document` from here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import output
from ..errors import CliError, UsageError
from ..http import quote
from .common import Context, add_command

if TYPE_CHECKING:
    from .common import Subparsers

_ABOUT_DELETE = "its tokens stop logging in at every instance's next login"


def _path(name: str) -> str:
    return f"/trust-policies/{quote(name)}"


def read_document(source: str, what: str) -> Any:
    """A JSON (or, with PyYAML installed, YAML) document from a file, ``-`` for stdin."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {what} {source}: {error.strerror}") from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        # Imported here: optional (not a dependency), and only YAML files need it.
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise UsageError(f"{what} {source} is not JSON (for YAML, install PyYAML)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UsageError(f"{what} {source} is neither JSON nor YAML: {error}") from None


def _condition(raw: str) -> dict[str, str]:
    claim, equals, value = raw.partition("=")
    if not equals or not claim or not value:
        raise UsageError(f"--condition wants CLAIM=VALUE, e.g. ref=refs/heads/*; not {raw!r}")
    return {"claim": claim, "value": value}


def _grant(raw: str) -> dict[str, Any]:
    pattern, colon, actions = raw.rpartition(":")
    if not colon or not pattern or not actions:
        raise UsageError(
            f"--grant wants PATTERN:ACTIONS, e.g. 'ci/${{claim.repository}}/**:push'; not {raw!r}"
        )
    return {"pattern": pattern, "actions": actions.split(",")}


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    """The fields the options give (None where an option was not given)."""
    fields: dict[str, Any] = {}
    if args.issuer is not None:
        fields["issuer"] = args.issuer
    if args.audience:
        fields["audiences"] = list(args.audience)
    if args.algorithm:
        fields["algorithms"] = list(args.algorithm)
    if args.leeway is not None:
        fields["leeway_seconds"] = args.leeway
    if args.max_lifetime is not None:
        fields["max_token_lifetime_seconds"] = args.max_lifetime
    if args.static_jwks is not None:
        fields["static_jwks"] = read_document(args.static_jwks, "--static-jwks")
    if args.condition:
        fields["conditions"] = [_condition(raw) for raw in args.condition]
    if args.grant:
        fields["grants"] = [_grant(raw) for raw in args.grant]
    if args.robot is not None:
        fields["robot"] = args.robot
    for flag, field, empty in (
        ("no_conditions", "conditions", []),
        ("no_grants", "grants", []),
        ("no_static_jwks", "static_jwks", None),
    ):
        if getattr(args, flag, False):
            if field in fields:
                raise UsageError(f"--{flag.replace('_', '-')} and a {field} option together")
            fields[field] = empty
    return fields


def _from_file(args: argparse.Namespace) -> dict[str, Any]:
    if args.file is None:
        return {}
    document = read_document(args.file, "--file")
    if not isinstance(document, dict):
        raise UsageError(f"--file {args.file} must hold one object (the policy's fields)")
    return document


def _summary(policy: dict[str, Any]) -> str:
    return f"{policy.get('name')} (issuer {policy.get('issuer')})"


def show_text(policy: dict[str, Any]) -> str:
    conditions = [
        f"{c.get('claim')} {'~' if '*' in str(c.get('value')) else '='} {c.get('value')}"
        for c in policy.get("conditions") or []
    ]
    grants = [
        f"{g.get('pattern')} {','.join(g.get('actions') or [])}" for g in policy.get("grants") or []
    ]
    keys = policy.get("static_jwks")
    robot = policy.get("robot")
    gets = (
        ("acts as", f"robot:{robot} (its grants at each login)")
        if robot
        else ("grants", "; ".join(grants) or "none")
    )
    return output.fields(
        [
            ("name", str(policy.get("name"))),
            ("issuer", str(policy.get("issuer"))),
            ("audiences", output.names(policy.get("audiences"))),
            ("algorithms", output.names(policy.get("algorithms"))),
            ("leeway", f"{policy.get('leeway_seconds')}s"),
            (
                "keys",
                "static JWKS" if isinstance(keys, dict) else "OIDC discovery at the issuer",
            ),
            ("conditions", "; ".join(conditions) or "none: every token of the issuer"),
            gets,
            ("max token lifetime", f"{policy.get('max_token_lifetime_seconds')}s"),
        ]
    )


def _rows(policies: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    rows = [
        [
            str(p.get("name")),
            str(p.get("issuer")),
            str(len(p.get("conditions") or [])),
            f"robot:{p.get('robot')}" if p.get("robot") else str(len(p.get("grants") or [])),
        ]
        for p in policies
    ]
    return ["NAME", "ISSUER", "CONDITIONS", "GRANTS"], rows


def create(ctx: Context) -> int:
    body = {**_from_file(ctx.args), **_fields(ctx.args)}
    body["name"] = ctx.args.name
    if "issuer" not in body or "audiences" not in body:
        raise UsageError("give --issuer and at least one --audience (or a --file with them)")
    policy = ctx.client().post("/trust-policies", body)
    ctx.output.emit(policy, lambda: f"created trust policy {_summary(policy)}")
    return 0


def update(ctx: Context) -> int:
    client = ctx.client()
    current = client.get(_path(ctx.args.name))
    changes = {**_from_file(ctx.args), **_fields(ctx.args)}
    if not changes:
        raise UsageError("give at least one field to change (see --help)")
    # A policy gives grants or a robot's grants: giving one replaces the other.
    if changes.get("robot") and "grants" not in changes:
        changes["grants"] = []
    if changes.get("grants") and "robot" not in changes:
        changes["robot"] = None
    body = {key: value for key, value in {**current, **changes}.items() if key != "name"}
    policy = client.put(_path(str(current.get("name"))), body)
    if not isinstance(policy, dict):
        raise CliError("unexpected answer: the update did not return the policy")
    ctx.output.emit(policy, lambda: f"updated trust policy {_summary(policy)}")
    return 0


def list_policies(ctx: Context) -> int:
    policies = ctx.client().list_all("/trust-policies")
    ctx.output.listing(policies, _rows, "no trust policies")
    return 0


def show(ctx: Context) -> int:
    policy = ctx.client().get(_path(ctx.args.name))
    ctx.output.emit(policy, lambda: show_text(policy))
    return 0


def delete(ctx: Context) -> int:
    client = ctx.client()
    policy = client.get(_path(ctx.args.name))
    name = str(policy.get("name"))
    if not ctx.confirm(f"Delete trust policy {name}? ({_ABOUT_DELETE})"):
        raise CliError(f"cancelled; trust policy {name} not deleted")
    client.delete(_path(name))
    ctx.output.emit(policy, lambda: f"deleted trust policy {name}; {_ABOUT_DELETE}")
    return 0


def _policy_options(parser: argparse.ArgumentParser, *, update: bool) -> None:
    parser.add_argument("name", help="the policy's name: what clients send as the user name")
    parser.add_argument(
        "--file", metavar="FILE", help="the policy's fields as JSON or YAML (- for stdin)"
    )
    parser.add_argument("--issuer", metavar="URL", help="the tokens' iss (https)")
    parser.add_argument(
        "--audience", action="append", metavar="AUD", help="an accepted aud (repeat for more)"
    )
    parser.add_argument(
        "--algorithm", action="append", metavar="ALG", help="an accepted alg (default RS256, ES256)"
    )
    parser.add_argument("--leeway", type=int, metavar="SECONDS", help="clock skew (default 60)")
    parser.add_argument(
        "--condition",
        action="append",
        metavar="CLAIM=VALUE",
        help="a claim that must equal VALUE, or match it as a glob with * or ** (repeat: all "
        "must hold), e.g. ref=refs/heads/*",
    )
    parser.add_argument(
        "--grant",
        action="append",
        metavar="PATTERN:ACTIONS",
        help="what a match gets, with ${claim.NAME} filled in (repeat for more), e.g. "
        "'ci/${claim.repository}/**:push'",
    )
    parser.add_argument(
        "--robot",
        metavar="NAME",
        help="instead of --grant: a match acts with this existing robot account's grants, as "
        "they are at each login",
    )
    parser.add_argument(
        "--max-lifetime", type=int, metavar="SECONDS", help="longest access token (default 300)"
    )
    parser.add_argument(
        "--static-jwks", metavar="FILE", help="the issuer's keys (a JWKS file), never fetched"
    )
    if update:
        parser.add_argument("--no-conditions", action="store_true", help="remove every condition")
        parser.add_argument("--no-grants", action="store_true", help="remove every grant")
        parser.add_argument(
            "--no-static-jwks", action="store_true", help="fetch the keys by OIDC discovery"
        )


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser(
        "trust-policy",
        help="manage workload-identity trust policies (Admin API)",
        description="Manage the external OIDC issuers (GitHub Actions, GitLab CI, Kubernetes) "
        "whose tokens log in as a trust policy's name, through the Admin API.",
    )
    sub = group.add_subparsers(dest="trust_policy_command", required=True, metavar="COMMAND")
    command = partial(add_command, sub, group="trust-policy", parents=[common])
    _policy_options(command("create", create, "create a trust policy"), update=False)
    _policy_options(
        command("update", update, "change the fields given of a trust policy"), update=True
    )
    command("list", list_policies, "list trust policies")
    command("show", show, "show one trust policy").add_argument("name")
    remove = command("delete", delete, "delete a trust policy")
    remove.add_argument("name")
    remove.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
