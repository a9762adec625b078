"""``dockit group ...``: groups and their members through ``/api/v1/groups``."""

from __future__ import annotations

import argparse
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import output
from ..errors import CliError
from ..http import quote
from .common import Context, add_command

if TYPE_CHECKING:
    from .common import Subparsers

_ABOUT_DELETE = "its memberships and grants go with it"


def _path(name: str) -> str:
    return f"/groups/{quote(name)}"


def _summary(group: dict[str, Any]) -> str:
    state = "enabled" if group.get("enabled") else "disabled: grants nothing"
    return f"{group.get('name')} ({state}; members: {output.names(group.get('members'))})"


def _show(group: dict[str, Any]) -> str:
    return output.fields(
        [
            ("name", str(group.get("name"))),
            ("enabled", output.yes_no(group.get("enabled"))),
            ("members", output.names(group.get("members"))),
            ("created", output.text(group.get("created_at"))),
        ]
    )


def add(ctx: Context) -> int:
    body = {"name": ctx.args.name, "enabled": not ctx.args.disabled}
    group = ctx.client().post("/groups", body)
    ctx.output.emit(group, lambda: f"created group {_summary(group)}")
    return 0


def list_groups(ctx: Context) -> int:
    groups = ctx.client().list_all("/groups")
    ctx.output.listing(groups, output.group_rows, "no groups")
    return 0


def show(ctx: Context) -> int:
    group = ctx.client().get(_path(ctx.args.name))
    ctx.output.emit(group, lambda: _show(group))
    return 0


def _set_enabled(ctx: Context, enabled: bool) -> int:
    group = ctx.client().patch(_path(ctx.args.name), {"enabled": enabled})
    done = "enabled" if enabled else "disabled"
    ctx.output.emit(group, lambda: f"{done} group {_summary(group)}")
    return 0


def enable(ctx: Context) -> int:
    return _set_enabled(ctx, True)


def disable(ctx: Context) -> int:
    return _set_enabled(ctx, False)


def delete(ctx: Context) -> int:
    client = ctx.client()
    group = client.get(_path(ctx.args.name))
    name = str(group.get("name"))
    if not ctx.confirm(f"Delete group {name}? ({_ABOUT_DELETE})"):
        raise CliError(f"cancelled; group {name} not deleted")
    client.delete(_path(name))
    ctx.output.emit(group, lambda: f"deleted group {name}; {_ABOUT_DELETE}")
    return 0


def _member_path(ctx: Context) -> str:
    return f"{_path(ctx.args.group)}/members/{quote(ctx.args.user)}"


def add_member(ctx: Context) -> int:
    group = ctx.client().put(_member_path(ctx))
    if not isinstance(group, dict):
        raise CliError("unexpected answer: adding a member did not return the group")
    ctx.output.emit(group, lambda: f"added {ctx.args.user} to {_summary(group)}")
    return 0


def remove_member(ctx: Context) -> int:
    group = ctx.client().delete(_member_path(ctx))
    if not isinstance(group, dict):
        raise CliError("unexpected answer: removing a member did not return the group")
    ctx.output.emit(group, lambda: f"removed {ctx.args.user} from {_summary(group)}")
    return 0


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser(
        "group",
        help="manage groups and their members (Admin API)",
        description="Manage Dockit's groups and their members through the Admin API.",
    )
    sub = group.add_subparsers(dest="group_command", required=True, metavar="COMMAND")

    command = partial(add_command, sub, group="group", parents=[common])

    new = command("add", add, "create a group")
    new.add_argument("name", help="the group name (a-z, 0-9, '.', '_', '@', '-')")
    new.add_argument("--disabled", action="store_true", help="create it disabled")
    command("list", list_groups, "list groups")
    command("show", show, "show one group and its members").add_argument("name")
    command("enable", enable, "let a group's grants apply again").add_argument("name")
    command("disable", disable, "keep a group's grants from applying").add_argument("name")
    remove = command("delete", delete, "delete a group, its memberships and its grants")
    remove.add_argument("name")
    remove.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    for name, handler, help_text in (
        ("add-member", add_member, "add a user to a group (no change if a member already)"),
        ("remove-member", remove_member, "remove a user from a group"),
    ):
        member = command(name, handler, help_text)
        member.add_argument("group")
        member.add_argument("user")
