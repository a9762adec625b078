"""``dockit user ...`` through the real server: every command, both formats, exit codes."""

from __future__ import annotations

import pytest

from dockit_server.client.errors import (
    EXIT_CONFLICT,
    EXIT_DENIED,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)
from tests.client.conftest import ADMIN, MakeUser
from tests.client.helpers import Cli, unique
from tests.support.dockit import DockitServer


def can_log_in(dockit: DockitServer, name: str, password: str) -> bool:
    answer = dockit.token(dockit.services[0], [], (name, password))
    assert answer.status in (200, 401), answer
    return answer.status == 200


# -- add --------------------------------------------------------------------------------------


def test_add_from_stdin(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("alice")
    result = admin_cli("user", "add", name, "--password-stdin", stdin="s3cret-pw\n")
    assert result.code == EXIT_OK, result
    assert result.stdout == f"created user {name} (enabled, not an admin)\n"
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert can_log_in(dockit, name, "s3cret-pw")
    assert dockit.get_user(name)["admin"] is False


def test_add_admin_disabled_as_json(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("Bob")
    result = admin_cli(
        "user",
        "add",
        name,
        "--admin",
        "--disabled",
        "--password-stdin",
        "-o",
        "json",
        stdin="pw-of-admin",
    )
    assert result.code == EXIT_OK, result
    user = result.json()
    assert user == dockit.get_user(name.lower())
    assert (user["username"], user["admin"], user["enabled"]) == (name.lower(), True, False)
    assert set(user) == {"username", "enabled", "admin", "groups", "created_at", "updated_at"}


def test_add_asks_twice_at_a_terminal(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("carol")
    result = admin_cli("user", "add", name, tty=True, prompts=["typed-pw", "typed-pw"])
    assert result.code == EXIT_OK, result
    assert can_log_in(dockit, name, "typed-pw")


def test_add_refuses_different_passwords(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("dave")
    result = admin_cli("user", "add", name, tty=True, prompts=["one-pw-1234", "two-pw-1234"])
    assert result.code == EXIT_USAGE, result
    assert "differ" in result.stderr
    assert "one-pw-1234" not in result.stderr
    assert dockit.admin("GET", f"/users/{name}").status == 404


def test_add_without_terminal_or_stdin_flag(admin_cli: Cli, dockit: DockitServer) -> None:
    name = unique("erin")
    result = admin_cli("user", "add", name)
    assert result.code == EXIT_USAGE, result
    assert "--password-stdin" in result.stderr
    assert dockit.admin("GET", f"/users/{name}").status == 404


def test_add_with_empty_stdin(admin_cli: Cli) -> None:
    result = admin_cli("user", "add", unique("frank"), "--password-stdin", stdin="\n")
    assert result.code == EXIT_USAGE, result
    assert "no password on stdin" in result.stderr


def test_add_existing_is_a_conflict(admin_cli: Cli, make_user: MakeUser) -> None:
    name = make_user()
    result = admin_cli("user", "add", name, "--password-stdin", stdin="other-pw")
    assert result.code == EXIT_CONFLICT, result
    assert f"user {name} exists already" in result.stderr


def test_add_bad_name(admin_cli: Cli) -> None:
    result = admin_cli("user", "add", "not a name!", "--password-stdin", stdin="pw")
    assert result.code == EXIT_USAGE, result
    assert "username: must be" in result.stderr


def test_add_bad_password_is_refused_by_the_server(admin_cli: Cli) -> None:
    result = admin_cli("user", "add", unique("gina"), "--password-stdin", stdin="a\x00b")
    assert result.code == EXIT_USAGE, result
    assert "password" in result.stderr


# -- list and show ----------------------------------------------------------------------------


def test_list(admin_cli: Cli, make_user: MakeUser) -> None:
    name = make_user()
    table = admin_cli("user", "list")
    assert table.code == EXIT_OK, table
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["USERNAME", "ENABLED", "ADMIN", "GROUPS", "CREATED"]
    assert any(line.split()[:4] == [ADMIN, "yes", "yes", "-"] for line in lines)
    assert any(line.split()[:4] == [name, "yes", "no", "-"] for line in lines)

    listed = admin_cli("user", "list", "--output", "json")
    assert listed.code == EXIT_OK, listed
    users = {user["username"]: user for user in listed.json()}
    assert users[ADMIN]["admin"] is True
    assert users[name]["admin"] is False


def test_show(admin_cli: Cli, make_user: MakeUser, dockit: DockitServer) -> None:
    name = make_user(admin=True)
    shown = admin_cli("user", "show", name)
    assert shown.code == EXIT_OK, shown
    user = dockit.get_user(name)
    assert shown.stdout.splitlines() == [
        f"username: {name}",
        "enabled:  yes",
        "admin:    yes",
        "groups:   -",
        f"created:  {user['created_at']}",
        f"updated:  {user['updated_at']}",
    ]
    as_json = admin_cli("user", "show", name.upper(), "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    assert as_json.json() == user


def test_show_missing(admin_cli: Cli) -> None:
    result = admin_cli("user", "show", "nobody-here")
    assert result.code == EXIT_NOT_FOUND, result
    assert "nobody-here" in result.stderr
    assert result.stdout == ""


# -- passwd -----------------------------------------------------------------------------------


def test_passwd(admin_cli: Cli, make_user: MakeUser, dockit: DockitServer) -> None:
    name = make_user()
    result = admin_cli("user", "passwd", name, "--password-stdin", stdin="new-pw-1234\r\n")
    assert result.code == EXIT_OK, result
    assert result.stdout == f"changed the password of {name}\n"
    assert can_log_in(dockit, name, "new-pw-1234")
    assert not can_log_in(dockit, name, f"{name}-pw")
    prompted = admin_cli(
        "user", "passwd", name, "-o", "json", tty=True, prompts=["p2-longer", "p2-longer"]
    )
    assert prompted.code == EXIT_OK, prompted
    assert prompted.json()["username"] == name
    assert can_log_in(dockit, name, "p2-longer")


def test_passwd_missing_user_asks_nothing(admin_cli: Cli) -> None:
    result = admin_cli("user", "passwd", "nobody-here", tty=True)
    assert result.code == EXIT_NOT_FOUND, result


# -- enable, disable, promote, demote ---------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "field", "start", "end", "said"),
    [
        ("enable", "enabled", False, True, "enabled"),
        ("disable", "enabled", True, False, "disabled"),
        ("promote", "admin", False, True, "promoted"),
        ("demote", "admin", True, False, "demoted"),
    ],
)
def test_flags(
    admin_cli: Cli,
    make_user: MakeUser,
    dockit: DockitServer,
    command: str,
    field: str,
    start: bool,
    end: bool,
    said: str,
) -> None:
    name = make_user(**({"enabled": start} if field == "enabled" else {"admin": start}))
    result = admin_cli("user", command, name)
    assert result.code == EXIT_OK, result
    assert result.stdout.startswith(f"{said}: {name} (")
    assert dockit.get_user(name)[field] is end
    again = admin_cli("user", command, name, "-o", "json")
    assert again.code == EXIT_OK, again
    assert again.json()[field] is end


@pytest.mark.parametrize("command", ["enable", "disable", "promote", "demote"])
def test_flags_of_a_missing_user(admin_cli: Cli, command: str) -> None:
    assert admin_cli("user", command, "nobody-here").code == EXIT_NOT_FOUND


@pytest.mark.parametrize("command", ["disable", "demote"])
def test_an_admin_cannot_lock_themselves_out(admin_cli: Cli, command: str) -> None:
    result = admin_cli("user", command, ADMIN)
    assert result.code == EXIT_CONFLICT, result
    assert "another admin has to do it" in result.stderr


# -- delete -----------------------------------------------------------------------------------


def test_delete_with_yes(admin_cli: Cli, make_user: MakeUser, dockit: DockitServer) -> None:
    name = make_user()
    before = dockit.get_user(name)
    result = admin_cli("user", "delete", name, "--yes", "-o", "json")
    assert result.code == EXIT_OK, result
    assert result.json() == before
    assert dockit.admin("GET", f"/users/{name}").status == 404
    assert admin_cli("user", "delete", name, "--yes").code == EXIT_NOT_FOUND


def test_delete_asks_at_a_terminal(
    admin_cli: Cli, make_user: MakeUser, dockit: DockitServer
) -> None:
    name = make_user()
    declined = admin_cli("user", "delete", name, stdin="n\n", tty=True)
    assert declined.code == EXIT_FAILURE, declined
    assert f"Delete user {name}?" in declined.stderr
    assert dockit.get_user(name)["username"] == name
    accepted = admin_cli("user", "delete", name, stdin="yes\n", tty=True)
    assert accepted.code == EXIT_OK, accepted
    assert accepted.stdout.startswith(f"deleted user {name}")
    assert dockit.admin("GET", f"/users/{name}").status == 404


def test_delete_without_yes_or_terminal(
    admin_cli: Cli, make_user: MakeUser, dockit: DockitServer
) -> None:
    name = make_user()
    result = admin_cli("user", "delete", name)
    assert result.code == EXIT_USAGE, result
    assert "--yes" in result.stderr
    assert dockit.get_user(name)["username"] == name


def test_an_admin_cannot_delete_themselves(admin_cli: Cli) -> None:
    result = admin_cli("user", "delete", ADMIN, "--yes")
    assert result.code == EXIT_CONFLICT, result


# -- who may --------------------------------------------------------------------------------


def test_a_non_admin_is_told_so(cli: Cli, make_user: MakeUser, dockit: DockitServer) -> None:
    name = make_user("plain")
    env = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": name, "DOCKIT_PASSWORD": f"{name}-pw"}
    for args in (["user", "list"], ["user", "add", unique("x"), "--password-stdin"]):
        result = cli(*args, env=env, stdin="pw")
        assert result.code == EXIT_DENIED, result
        assert f"{name} is not an admin" in result.stderr
        assert f"dockit user promote {name}" in result.stderr


def test_wrong_password(cli: Cli, dockit: DockitServer) -> None:
    env = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": ADMIN, "DOCKIT_PASSWORD": "wrong-pw-9"}
    result = cli("user", "list", env=env)
    assert result.code == EXIT_DENIED, result
    assert f"refused the credentials of '{ADMIN}' from DOCKIT_USERNAME and DOCKIT_PASSWORD" in (
        result.stderr
    )
    assert "wrong-pw-9" not in result.stderr + result.stdout


def test_username_flag_asks_for_the_password(cli: Cli, dockit: DockitServer) -> None:
    result = cli(
        "user",
        "show",
        ADMIN,
        "--username",
        ADMIN,
        "--url",
        dockit.url,
        tty=True,
        prompts=["admin-pw"],
    )
    assert result.code == EXIT_OK, result
    no_terminal = cli("user", "show", ADMIN, "--username", ADMIN, "--url", dockit.url)
    assert no_terminal.code == EXIT_USAGE, no_terminal
    assert "no terminal" in no_terminal.stderr
