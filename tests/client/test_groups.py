"""``dockit group ...`` through the real server: every command, both formats, exit codes."""

from __future__ import annotations

import pytest

from dockit_server.client.errors import (
    EXIT_CONFLICT,
    EXIT_DENIED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)
from tests.client.conftest import MakeUser
from tests.client.helpers import Cli, unique
from tests.support.dockit import DockitServer


def test_add_show_list(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("devs")
    added = admin_cli("group", "add", name)
    assert added.code == EXIT_OK, added
    assert added.stdout == f"created group {name} (enabled; members: -)\n"

    shown = admin_cli("group", "show", name)
    assert shown.code == EXIT_OK, shown
    assert shown.stdout.splitlines()[:3] == [
        f"name:    {name}",
        "enabled: yes",
        "members: -",
    ]
    as_json = admin_cli("group", "show", name, "-o", "json")
    assert as_json.json() == {**dockit.admin("GET", f"/groups/{name}").json()}

    listed = admin_cli("group", "list")
    assert listed.code == EXIT_OK, listed
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ENABLED", "MEMBERS", "CREATED"]
    assert any(line.split()[:3] == [name, "yes", "-"] for line in lines)
    listed_json = admin_cli("group", "list", "-o", "json")
    assert name in {group["name"] for group in listed_json.json()}


def test_add_disabled_as_json(admin_cli: Cli) -> None:
    name = unique("ops")
    result = admin_cli("group", "add", name, "--disabled", "-o", "json")
    assert result.code == EXIT_OK, result
    group = result.json()
    assert (group["name"], group["enabled"], group["members"]) == (name, False, [])
    assert set(group) == {"name", "enabled", "members", "created_at"}


def test_add_existing_and_bad_names(admin_cli: Cli) -> None:
    name = unique("team")
    assert admin_cli("group", "add", name).code == EXIT_OK
    again = admin_cli("group", "add", name)
    assert again.code == EXIT_CONFLICT, again
    assert "exists" in again.stderr
    bad = admin_cli("group", "add", "-bad-")
    assert bad.code == EXIT_USAGE, bad
    bad_json = admin_cli("group", "add", "Bad Name", "-o", "json")
    assert bad_json.code == EXIT_USAGE, bad_json
    assert bad_json.stdout == ""


@pytest.mark.parametrize("command", ["show", "enable", "disable"])
def test_missing_group(admin_cli: Cli, command: str) -> None:
    result = admin_cli("group", command, "no-such-group")
    assert result.code == EXIT_NOT_FOUND, result
    assert "no-such-group" in result.stderr


def test_enable_disable(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("grp")
    dockit.create_group(name)
    disabled = admin_cli("group", "disable", name)
    assert disabled.code == EXIT_OK, disabled
    assert disabled.stdout == f"disabled group {name} (disabled: grants nothing; members: -)\n"
    assert dockit.admin("GET", f"/groups/{name}").json()["enabled"] is False
    enabled = admin_cli("group", "enable", name, "-o", "json")
    assert enabled.code == EXIT_OK, enabled
    assert enabled.json()["enabled"] is True


def test_members(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    group, user = unique("grp"), make_user()
    dockit.create_group(group)
    added = admin_cli("group", "add-member", group, user)
    assert added.code == EXIT_OK, added
    assert added.stdout == f"added {user} to {group} (enabled; members: {user})\n"
    again = admin_cli("group", "add-member", group, user, "-o", "json")
    assert again.code == EXIT_OK, again
    assert again.json()["members"] == [user]
    assert dockit.get_user(user)["groups"] == [group]

    removed = admin_cli("group", "remove-member", group, user, "-o", "json")
    assert removed.code == EXIT_OK, removed
    assert removed.json()["members"] == []
    not_member = admin_cli("group", "remove-member", group, user)
    assert not_member.code == EXIT_NOT_FOUND, not_member
    assert admin_cli("group", "add-member", group, "nobody-here").code == EXIT_NOT_FOUND
    assert admin_cli("group", "add-member", "no-such-group", user).code == EXIT_NOT_FOUND
    assert admin_cli("group", "add-member", group, "Not Valid").code == EXIT_USAGE


def test_delete(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    group, user = unique("grp"), make_user()
    dockit.create_group(group)
    dockit.add_member(group, user)
    dockit.grant(f"group:{group}", f"repository:{group}/*:pull")
    refused = admin_cli("group", "delete", group)
    assert refused.code == EXIT_USAGE, refused
    assert "--yes" in refused.stderr

    before = dockit.admin("GET", f"/groups/{group}").json()
    deleted = admin_cli("group", "delete", group, "--yes", "-o", "json")
    assert deleted.code == EXIT_OK, deleted
    assert deleted.json() == before
    assert dockit.admin("GET", f"/groups/{group}").status == 404
    assert dockit.get_user(user)["groups"] == []
    grants = dockit.admin("GET", f"/grants?subject=group:{group}").json()["items"]
    assert grants == []
    assert admin_cli("group", "delete", group, "--yes").code == EXIT_NOT_FOUND


def test_delete_asks_at_a_terminal(admin_cli: Cli, dockit: DockitServer) -> None:
    group = unique("grp")
    dockit.create_group(group)
    result = admin_cli("group", "delete", group, tty=True, stdin="y\n")
    assert result.code == EXIT_OK, result
    assert result.stdout == f"deleted group {group}; its memberships and grants go with it\n"


def test_a_non_admin_cannot(cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    name = make_user()
    env = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": name, "DOCKIT_PASSWORD": f"{name}-pw"}
    result = cli("group", "add", unique("grp"), env=env)
    assert result.code == EXIT_DENIED, result
    assert f"{name} is not an admin" in result.stderr
