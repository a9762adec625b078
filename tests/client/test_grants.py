"""``dockit grant``, ``revoke``, ``grants`` and ``permissions`` through the real server."""

from __future__ import annotations

from collections.abc import Iterator

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


def grants_of(dockit: DockitServer, subject: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = dockit.admin(
        "GET", f"/grants?subject={subject}", expect=200
    ).json()["items"]
    return items


@pytest.fixture
def shared_grants(dockit: DockitServer) -> Iterator[list[int]]:
    """Ids of grants to ``anonymous``/``authenticated`` a test made: revoked afterwards."""
    ids: list[int] = []
    yield ids
    for grant_id in ids:
        dockit.admin("DELETE", f"/grants/{grant_id}")


# -- grant ------------------------------------------------------------------------------------


def test_grant(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    result = admin_cli("grant", f"user:{user}", f"repository:{user}/*:push,pull")
    assert result.code == EXIT_OK, result
    [stored] = grants_of(dockit, f"user:{user}")
    assert result.stdout == (
        f"granted user:{user} repository:{user}/*:pull,push (grant {stored['id']})\n"
    )
    pattern = f"{user}/**"
    as_json = admin_cli("grant", f"user:{user.upper()}", f"repository:{pattern}:pull", "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    created = as_json.json()
    assert (created["subject"], created["pattern"], created["actions"]) == (
        f"user:{user}",
        pattern,
        ["pull"],
    )
    assert created in grants_of(dockit, f"user:{user}")


def new_group(dockit: DockitServer) -> str:
    """A uniquely named group: grants to a group that does not exist are refused."""
    group = unique("grp")
    dockit.create_group(group)
    return group


def test_granting_the_same_again_is_fine(admin_cli: Cli, dockit: DockitServer) -> None:
    group = new_group(dockit)
    first = admin_cli("grant", f"group:{group}", f"repository:{group}/*:pull,push", "-o", "json")
    assert first.code == EXIT_OK, first
    again = admin_cli("grant", f"group:{group}", f"repository:{group}/*:push,pull")
    assert again.code == EXIT_OK, again
    assert again.stdout.startswith("already granted: ")
    assert f"(grant {first.json()['id']})" in again.stdout
    assert len(grants_of(dockit, f"group:{group}")) == 1


def test_granting_other_actions_is_a_conflict(admin_cli: Cli, dockit: DockitServer) -> None:
    group = new_group(dockit)
    dockit.grant(f"group:{group}", f"repository:{group}/*:pull")
    result = admin_cli("grant", f"group:{group}", f"repository:{group}/*:pull,push")
    assert result.code == EXIT_CONFLICT, result
    assert f"group:{group} already has repository:{group}/*:pull" in result.stderr
    assert "nothing changed" in result.stderr
    [stored] = grants_of(dockit, f"group:{group}")
    assert stored["actions"] == ["pull"]


@pytest.mark.parametrize(
    ("subject", "scope", "field"),
    [
        ("user:alice", "repository:alice", "scope"),
        ("user:alice", "repository:alice/*:fly", "actions"),
        ("user:alice", "Repository:alice/*:pull", "resource_type"),
        ("someone", "repository:alice/*:pull", "subject"),
        ("user:Not Valid", "repository:x:pull", "subject"),
    ],
)
def test_grant_bad_input(admin_cli: Cli, subject: str, scope: str, field: str) -> None:
    result = admin_cli("grant", subject, scope)
    assert result.code == EXIT_USAGE, result
    assert f"{field}:" in result.stderr


# -- revoke -----------------------------------------------------------------------------------


def test_revoke(admin_cli: Cli, dockit: DockitServer) -> None:
    group = new_group(dockit)
    grant_id = dockit.grant(f"group:{group}", f"repository:{group}/**:push,pull")
    keep = dockit.grant(f"group:{group}", f"repository:{group}/keep:pull")
    result = admin_cli("revoke", f"group:{group}", f"repository:{group}/**:pull,push")
    assert result.code == EXIT_OK, result
    assert result.stdout == (
        f"revoked group:{group} repository:{group}/**:pull,push (grant {grant_id})\n"
    )
    assert [g["id"] for g in grants_of(dockit, f"group:{group}")] == [keep]
    again = admin_cli("revoke", f"group:{group}", f"repository:{group}/**:pull,push")
    assert again.code == EXIT_NOT_FOUND, again
    assert f"group:{group} has no grant on repository:{group}/**" in again.stderr

    as_json = admin_cli("revoke", f"group:{group}", f"repository:{group}/keep:pull", "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    assert as_json.json()["id"] == keep
    assert grants_of(dockit, f"group:{group}") == []


def test_revoke_other_actions_refuses(admin_cli: Cli, dockit: DockitServer) -> None:
    group = new_group(dockit)
    grant_id = dockit.grant(f"group:{group}", f"repository:{group}/*:pull,push")
    result = admin_cli("revoke", f"group:{group}", f"repository:{group}/*:push")
    assert result.code == EXIT_CONFLICT, result
    assert "nothing revoked" in result.stderr
    assert f"is repository:{group}/*:pull,push (grant {grant_id}), not push" in result.stderr
    assert f"dockit revoke group:{group} 'repository:{group}/*:pull,push'" in result.stderr
    assert [g["id"] for g in grants_of(dockit, f"group:{group}")] == [grant_id]


@pytest.mark.parametrize(
    ("subject", "scope"),
    [("group:x", "repository:x"), ("nobody", "repository:x/*:pull"), ("group:x", "a:b:jump")],
)
def test_revoke_bad_input(admin_cli: Cli, subject: str, scope: str) -> None:
    result = admin_cli("revoke", subject, scope)
    assert result.code == EXIT_USAGE, result


# -- grants -----------------------------------------------------------------------------------


def test_grants_listing(admin_cli: Cli, dockit: DockitServer) -> None:
    group = new_group(dockit)
    grant_id = dockit.grant(f"group:{group}", f"repository:{group}/*:pull")
    everything = admin_cli("grants")
    assert everything.code == EXIT_OK, everything
    assert everything.stdout.splitlines()[0].split() == ["ID", "SUBJECT", "SCOPE", "CREATED"]
    assert any(
        line.split()[:3] == [str(grant_id), f"group:{group}", f"repository:{group}/*:pull"]
        for line in everything.stdout.splitlines()
    )
    only = admin_cli("grants", "--subject", f"group:{group}", "-o", "json")
    assert only.code == EXIT_OK, only
    assert [g["id"] for g in only.json()] == [grant_id]
    none = admin_cli("grants", "--subject", f"group:{unique('none')}")
    assert none.stdout == "no grants\n"
    assert admin_cli("grants", "--subject", "bad subject").code == EXIT_USAGE


# -- permissions ------------------------------------------------------------------------------


def test_permissions_of_a_user(
    admin_cli: Cli, dockit: DockitServer, make_user: MakeUser, shared_grants: list[int]
) -> None:
    user = make_user()
    devs, old = unique("devs"), unique("old")
    for group in (devs, old):
        dockit.create_group(group)
        dockit.add_member(group, user)
    dockit.set_group(old, enabled=False)
    own = dockit.grant(f"user:{user}", f"repository:{user}/**:*")
    team = dockit.grant(f"group:{devs}", f"repository:{devs}/*:pull,push")
    stale = dockit.grant(f"group:{old}", f"repository:{old}/*:pull")
    logged_in = dockit.grant("authenticated", f"repository:{user}-auth/*:pull")
    everyone = dockit.grant("anonymous", f"repository:{user}-public/*:pull")
    shared_grants.extend([logged_in, everyone])
    other_group = unique("other")
    dockit.create_group(other_group)
    other = dockit.grant(f"group:{other_group}", "repository:other/*:pull")

    result = admin_cli("permissions", f"user:{user}")
    assert result.code == EXIT_OK, result
    lines = result.stdout.splitlines()
    assert lines[0] == f"user:{user}: enabled; groups: {', '.join(sorted([devs, old]))}"
    rows = {line.split()[1]: line.split() for line in lines[2:]}
    assert rows[str(own)][0] == f"user:{user}"
    assert rows[str(team)][0] == f"group:{devs}"
    assert rows[str(stale)][0] == f"group:{old}"
    assert " ".join(rows[str(stale)][3:]) == "group disabled: grants nothing"
    assert rows[str(logged_in)][0] == "authenticated"
    assert rows[str(everyone)][0] == "anonymous"
    assert str(other) not in rows

    document = admin_cli("permissions", f"user:{user}", "-o", "json").json()
    assert document["subject"] == f"user:{user}"
    assert document["user"] == dockit.get_user(user)
    assert document["group"] is None
    by_id = {entry["grant"]["id"]: entry for entry in document["grants"]}
    assert by_id[own]["via"] == f"user:{user}"
    assert by_id[own]["active"] is True
    assert by_id[stale] | {"grant": None} == {
        "via": f"group:{old}",
        "active": False,
        "note": "group disabled: grants nothing",
        "grant": None,
    }
    assert by_id[everyone]["grant"]["scope"] == f"repository:{user}-public/*:pull"
    assert other not in by_id


def test_permissions_of_a_disabled_user(
    admin_cli: Cli, dockit: DockitServer, make_user: MakeUser, shared_grants: list[int]
) -> None:
    user = make_user(enabled=False)
    own = dockit.grant(f"user:{user}", f"repository:{user}/*:pull")
    everyone = dockit.grant("anonymous", f"repository:{user}-public/*:pull")
    shared_grants.append(everyone)
    document = admin_cli("permissions", f"user:{user}", "-o", "json").json()
    by_id = {entry["grant"]["id"]: entry for entry in document["grants"]}
    assert (by_id[own]["active"], by_id[own]["note"]) == (False, "user disabled: cannot log in")
    assert by_id[everyone]["active"] is True


def test_permissions_of_groups_and_specials(
    admin_cli: Cli, dockit: DockitServer, shared_grants: list[int]
) -> None:
    group = unique("grp")
    dockit.create_group(group, enabled=False)
    grant_id = dockit.grant(f"group:{group}", f"repository:{group}/*:pull")
    result = admin_cli("permissions", f"group:{group}")
    assert result.code == EXIT_OK, result
    assert result.stdout.splitlines()[1].split() == [
        f"group:{group}",
        str(grant_id),
        f"repository:{group}/*:pull",
        "group",
        "disabled:",
        "grants",
        "nothing",
    ]
    document = admin_cli("permissions", f"group:{group}", "-o", "json").json()
    assert document["group"]["name"] == group
    assert [entry["grant"]["id"] for entry in document["grants"]] == [grant_id]

    pattern = unique("pub")
    everyone = dockit.grant("anonymous", f"repository:{pattern}/*:pull")
    shared_grants.append(everyone)
    anonymous = admin_cli("permissions", "anonymous", "-o", "json").json()
    assert everyone in [entry["grant"]["id"] for entry in anonymous["grants"]]
    assert all(entry["via"] == "anonymous" for entry in anonymous["grants"])

    empty = unique("empty")
    none = admin_cli("permissions", f"group:{empty}")
    assert none.code == EXIT_NOT_FOUND, none


def test_permissions_failures(admin_cli: Cli) -> None:
    assert admin_cli("permissions", "user:nobody-here").code == EXIT_NOT_FOUND
    bad = admin_cli("permissions", "everyone")
    assert bad.code == EXIT_USAGE, bad
    assert "subject: must be user:NAME" in bad.stderr


def test_a_non_admin_cannot(cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    name = make_user()
    env = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": name, "DOCKIT_PASSWORD": f"{name}-pw"}
    for args in (
        ["grant", f"user:{name}", "repository:x/*:pull"],
        ["revoke", f"user:{name}", "repository:x/*:pull"],
        ["grants"],
        ["permissions", f"user:{name}"],
    ):
        result = cli(*args, env=env)
        assert result.code == EXIT_DENIED, result
        assert f"{name} is not an admin" in result.stderr
