"""``dockit robot ...``: robot accounts through ``/api/v1/robots`` (admins).

A robot is a login name for CI (``docker login -u NAME``) with a secret as its password and
grants of its own (``dockit grant robot:NAME ...``). ``create`` and ``rotate`` print the new
secret once, alone on stdout (with ``-o json``: in the object), so a script can capture it.
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
from .support import add_expiry_options, emit_secret, expiry_body, lifetime_body

if TYPE_CHECKING:
    from .common import Subparsers

_ABOUT_DELETE = "its grants go with it; logins with its secret get 401"


def _path(name: str) -> str:
    return f"/robots/{quote(name.removeprefix('robot:'))}"


def _expiry(robot: dict[str, Any]) -> str:
    return str(robot.get("expires_at") or "never")


def robot_rows(robots: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["NAME", "OWNER", "ENABLED", "EXPIRES", "LAST USED", "FROM"]
    rows = [
        [
            output.text(r.get("name")),
            output.text(r.get("owner")),
            output.yes_no(r.get("enabled")),
            _expiry(r),
            r.get("last_used_at") or "never",
            output.text(r.get("last_used_from") or "-"),
        ]
        for r in robots
    ]
    return headers, rows


def _show(robot: dict[str, Any]) -> str:
    lifetime = robot.get("access_token_lifetime")
    return output.fields(
        [
            ("name", output.text(robot.get("name"))),
            ("id", output.text(robot.get("id"))),
            ("owner", output.text(robot.get("owner"))),
            ("enabled", output.yes_no(robot.get("enabled"))),
            ("created", output.text(robot.get("created_at"))),
            ("expires", _expiry(robot)),
            ("token lifetime", f"{lifetime}s" if lifetime else "the server's"),
            ("last used", str(robot.get("last_used_at") or "never")),
            ("last used from", output.text(robot.get("last_used_from") or "-")),
        ]
    )


def create(ctx: Context) -> int:
    args = ctx.args
    body: dict[str, Any] = {"name": args.name, "owner": args.owner}
    body |= expiry_body(args) | lifetime_body(args.token_lifetime)
    robot = ctx.client().post("/robots", body)
    name = robot.get("name")
    emit_secret(
        ctx,
        robot,
        f"created robot {name} (owner {robot.get('owner')}, expires {_expiry(robot)}); grant "
        f"it access with: dockit grant robot:{name} SCOPE; log in with: docker login -u "
        f"{name} --password-stdin REGISTRY",
    )
    return 0


def list_robots(ctx: Context) -> int:
    query = {"owner": ctx.args.owner} if ctx.args.owner else None
    robots = ctx.client().list_all("/robots", query)
    ctx.output.listing(robots, robot_rows, "no robots")
    return 0


def show(ctx: Context) -> int:
    robot = ctx.client().get(_path(ctx.args.name))
    ctx.output.emit(robot, lambda: _show(robot))
    return 0


def rotate(ctx: Context) -> int:
    body = expiry_body(ctx.args)
    client = ctx.client()
    path = f"{_path(ctx.args.name)}/secret"
    robot = client.post(path, body)
    emit_secret(
        ctx,
        robot,
        f"new secret for robot {robot.get('name')} (expires {_expiry(robot)}); the old one "
        "no longer works",
    )
    return 0


def _enable(ctx: Context, enabled: bool) -> int:
    robot = ctx.client().patch(_path(ctx.args.name), {"enabled": enabled})
    done = "enabled" if enabled else "disabled"
    ctx.output.emit(robot, lambda: f"{done} robot {robot.get('name')}")
    return 0


def enable(ctx: Context) -> int:
    return _enable(ctx, True)


def disable(ctx: Context) -> int:
    return _enable(ctx, False)


def delete(ctx: Context) -> int:
    client = ctx.client()
    robot = client.get(_path(ctx.args.name))
    name = str(robot.get("name"))
    if not ctx.confirm(f"Delete robot {name}? ({_ABOUT_DELETE})"):
        raise CliError(f"cancelled; robot {name} not deleted")
    client.delete(_path(name))
    ctx.output.emit(robot, lambda: f"deleted robot {name}; {_ABOUT_DELETE}")
    return 0


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    robot = commands.add_parser(
        "robot",
        help="manage robot accounts: named credentials for CI (Admin API)",
        description="A robot account logs in to registries as NAME with a secret (docker "
        "login -u NAME) and has only the grants given to robot:NAME. It must expire (the "
        "server caps how late), can be disabled, and its secret rotated.",
    )
    sub = robot.add_subparsers(dest="robot_command", required=True, metavar="COMMAND")
    command = partial(add_command, sub, group="robot", parents=[common])

    new = command("create", create, "make a robot and print its secret (once)")
    new.add_argument("name", help="its login name (a-z, 0-9, '.', '_', '@', '-'; not a user's)")
    new.add_argument(
        "--owner",
        required=True,
        metavar="SUBJECT",
        help="who answers for it: user:NAME or group:NAME (deleting the owner deletes it)",
    )
    add_expiry_options(new, what="the robot")
    new.add_argument(
        "--token-lifetime",
        metavar="DURATION",
        help="how long its access tokens live, e.g. 1h for long pushes (default: the server's)",
    )
    listing = command("list", list_robots, "list robots")
    listing.add_argument("--owner", metavar="SUBJECT", help="only those of user:NAME or group:NAME")
    command("show", show, "show one robot").add_argument("name")
    again = command("rotate", rotate, "give a robot a new secret (the old one stops at once)")
    again.add_argument("name")
    add_expiry_options(again, what="the robot (default: as before)")
    command("enable", enable, "let a robot log in again").add_argument("name")
    command("disable", disable, "stop a robot from logging in").add_argument("name")
    remove = command("delete", delete, "delete a robot and its grants")
    remove.add_argument("name")
    remove.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
