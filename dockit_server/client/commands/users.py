"""``dockit user ...``: local user accounts through ``/api/v1/users``."""

from __future__ import annotations

import argparse
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import output
from ..errors import ApiError, CliError, ConflictError
from ..http import quote
from .common import Context, add_command

if TYPE_CHECKING:
    from .common import Subparsers

_ABOUT_DELETE = "their group memberships and grants go with them"


def _path(name: str) -> str:
    return f"/users/{quote(name)}"


def _summary(user: dict[str, Any]) -> str:
    state = "enabled" if user.get("enabled") else "disabled"
    role = "an admin" if user.get("admin") else "not an admin"
    return f"{user.get('username')} ({state}, {role})"


def _show(user: dict[str, Any]) -> str:
    return output.fields(
        [
            ("username", str(user.get("username"))),
            ("enabled", output.yes_no(user.get("enabled"))),
            ("admin", output.yes_no(user.get("admin"))),
            ("groups", output.names(user.get("groups"))),
            ("created", output.text(user.get("created_at"))),
            ("updated", output.text(user.get("updated_at"))),
        ]
    )


def add(ctx: Context) -> int:
    args = ctx.args
    client = ctx.client()
    try:
        existing = client.get(_path(args.name))
    except ApiError as exc:
        if exc.status != 404:
            raise
    else:
        raise ConflictError(f"user {existing.get('username')} exists already")
    password = ctx.new_password(args.name)
    body = {
        "username": args.name,
        "password": password.reveal(),
        "admin": args.admin,
        "enabled": not args.disabled,
    }
    user = client.post("/users", body)
    ctx.output.emit(user, lambda: f"created user {_summary(user)}")
    return 0


def list_users(ctx: Context) -> int:
    users = ctx.client().list_all("/users")
    ctx.output.listing(users, output.user_rows, "no users")
    return 0


def show(ctx: Context) -> int:
    user = ctx.client().get(_path(ctx.args.name))
    ctx.output.emit(user, lambda: _show(user))
    return 0


def passwd(ctx: Context) -> int:
    client = ctx.client()
    client.get(_path(ctx.args.name))  # not found: say so before asking for a password
    password = ctx.new_password(ctx.args.name)
    client.put(f"{_path(ctx.args.name)}/password", {"password": password.reveal()})
    user = client.get(_path(ctx.args.name))
    ctx.output.emit(user, lambda: f"changed the password of {user.get('username')}")
    return 0


def _patch(ctx: Context, field: str, value: bool, done: str) -> int:
    user = ctx.client().patch(_path(ctx.args.name), {field: value})
    ctx.output.emit(user, lambda: f"{done}: {_summary(user)}")
    return 0


def enable(ctx: Context) -> int:
    return _patch(ctx, "enabled", True, "enabled")


def disable(ctx: Context) -> int:
    return _patch(ctx, "enabled", False, "disabled")


def promote(ctx: Context) -> int:
    return _patch(ctx, "admin", True, "promoted")


def demote(ctx: Context) -> int:
    return _patch(ctx, "admin", False, "demoted")


def delete(ctx: Context) -> int:
    client = ctx.client()
    user = client.get(_path(ctx.args.name))
    name = str(user.get("username"))
    if not ctx.confirm(f"Delete user {name}? ({_ABOUT_DELETE})"):
        raise CliError(f"cancelled; user {name} not deleted")
    client.delete(_path(name))
    ctx.output.emit(user, lambda: f"deleted user {name}; {_ABOUT_DELETE}")
    return 0


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    user = commands.add_parser(
        "user",
        help="manage local users (Admin API)",
        description="Manage Dockit's local users through the Admin API.",
    )
    sub = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")

    command = partial(add_command, sub, group="user", parents=[common])

    new = command("add", add, "create a user (the password is asked twice, or read from stdin)")
    new.add_argument("name", help="the user name (a-z, 0-9, '.', '_', '@', '-')")
    new.add_argument("--admin", action="store_true", help="may use the Admin API")
    new.add_argument("--disabled", action="store_true", help="create it disabled")
    new.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    command("list", list_users, "list users")
    command("show", show, "show one user").add_argument("name")
    change = command("passwd", passwd, "set a user's password (asked twice, or read from stdin)")
    change.add_argument("name")
    change.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    command("enable", enable, "let a user log in again").add_argument("name")
    command("disable", disable, "stop a user from logging in").add_argument("name")
    command("promote", promote, "give a user the admin flag").add_argument("name")
    command("demote", demote, "take the admin flag from a user").add_argument("name")
    remove = command("delete", delete, "delete a user, their memberships and their grants")
    remove.add_argument("name")
    remove.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
