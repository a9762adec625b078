"""A newcomer's usual mistakes with the ``dockit`` CLI, against the real server: each gets
one line that names the cause and the fix, and the exit code a script can branch on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dockit_server.cli import main
from dockit_server.client.errors import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)
from tests.client.conftest import ADMIN, ADMIN_PASSWORD, MakeUser
from tests.client.helpers import Cli, run_cli, subprocess_env, unique
from tests.client.test_terminal import Terminal
from tests.support.dockit import DockitServer


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# -- grants that could never match ------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "scope", "says"),
    [
        (
            "user:{user}",
            "repositry:{user}/*:pull",
            "resource_type: unknown resource type 'repositry' (did you mean 'repository'?)",
        ),
        (
            "user:{user}",
            "repository:{upper}/*:pull",
            "has upper-case letters, but resource names are lower case, so it could never "
            "match; use '{user}/*'",
        ),
        (
            "user:nobody-{user}",
            "repository:x/*:pull",
            "user:nobody-{user} does not exist: create the user first with dockit user add "
            "nobody-{user}",
        ),
        (
            "group:nobody-{user}",
            "repository:x/*:pull",
            "group:nobody-{user} does not exist: create the group first with dockit group add "
            "nobody-{user}",
        ),
        ("authenticated", "registry:catalog:pull", "the registry asks for registry:catalog:*"),
    ],
)
def test_a_grant_that_could_never_match_is_refused(
    admin_cli: Cli,
    dockit: DockitServer,
    make_user: MakeUser,
    subject: str,
    scope: str,
    says: str,
) -> None:
    user = make_user()
    names = {"user": user, "upper": user.upper()}
    result = admin_cli("grant", subject.format(**names), scope.format(**names))
    assert result.code == EXIT_USAGE, result
    assert says.format(**names) in one_line(result.stderr)
    assert result.stdout == ""
    listed = dockit.admin("GET", "/grants?limit=1000", expect=200).json()["items"]
    assert not [g for g in listed if user in str(g["subject"]) or user in str(g["pattern"])]


def test_an_unknown_type_on_purpose(admin_cli: Cli, make_user: MakeUser) -> None:
    user = make_user()
    scope = f"helmchart:{user}/*:pull"
    result = admin_cli("grant", f"user:{user}", scope, "--allow-unknown-type")
    assert result.code == EXIT_OK, result
    assert result.stdout.startswith(f"granted user:{user} {scope}")


# -- passwords ---------------------------------------------------------------------------------


def test_ctrl_d_at_the_password_prompt(dockit: DockitServer, tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, DOCKIT_URL=dockit.url, DOCKIT_USERNAME=ADMIN)
    terminal = Terminal(["user", "list"], env, tmp_path)
    terminal.answer(f"Password for {ADMIN}: ", "\x04")  # Ctrl-D, then a stray Enter
    assert terminal.finish() == EXIT_FAILURE, terminal.screen
    assert "Traceback" not in terminal.screen
    assert "EOFError" not in terminal.screen
    assert "dockit user list: cancelled at the password prompt (end of input)" in terminal.screen


def test_ctrl_d_at_a_new_password_prompt(dockit: DockitServer, tmp_path: Path) -> None:
    name = unique("tty")
    env = subprocess_env(
        tmp_path, DOCKIT_URL=dockit.url, DOCKIT_USERNAME=ADMIN, DOCKIT_PASSWORD=ADMIN_PASSWORD
    )
    terminal = Terminal(["user", "add", name], env, tmp_path)
    terminal.answer(f"New password for {name}: ", "\x04")
    assert terminal.finish() == EXIT_FAILURE, terminal.screen
    assert "Traceback" not in terminal.screen
    assert "cancelled at the password prompt" in terminal.screen
    assert dockit.admin("GET", f"/users/{name}").status == 404


def test_a_username_without_password_and_no_terminal(dockit: DockitServer, tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, DOCKIT_URL=dockit.url, DOCKIT_USERNAME=ADMIN)
    result = run_cli(["user", "list"], env=env, cwd=tmp_path)
    assert result.code == EXIT_USAGE, result
    line = one_line(result.stderr)
    assert "no terminal to ask for the password: set DOCKIT_PASSWORD" in line
    assert "--password-stdin" not in line  # user list has no such option
    # The advice works: the same command with DOCKIT_PASSWORD.
    env["DOCKIT_PASSWORD"] = ADMIN_PASSWORD
    assert run_cli(["user", "list"], env=env, cwd=tmp_path).code == EXIT_OK


# -- the command line itself -------------------------------------------------------------------


def test_dockit_alone_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    err = capsys.readouterr().err
    for command in ("api-server", "init-container", "user", "grant", "explain", "keys"):
        assert re.search(rf"^\s+{command}\s", err, re.MULTILINE), err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"dockit \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_global_options_before_the_command(cli: Cli, dockit: DockitServer) -> None:
    creds = {"DOCKIT_USERNAME": ADMIN, "DOCKIT_PASSWORD": ADMIN_PASSWORD}
    before = cli("--url", dockit.url, "-o", "json", "--timeout", "5", "user", "list", env=creds)
    assert before.code == EXIT_OK, before
    assert ADMIN in [user["username"] for user in before.json()]
    by_flag = cli(
        "--url", dockit.url, "--username", ADMIN, "group", "list",
        env={"DOCKIT_PASSWORD": ADMIN_PASSWORD},
    )  # fmt: skip
    assert by_flag.code == EXIT_OK, by_flag
    # After the command wins over before it, as each option's last mention would.
    both = cli("-o", "json", "user", "list", "--url", dockit.url, "-o", "table", env=creds)
    assert both.code == EXIT_OK, both
    assert both.stdout.split()[0] == "USERNAME"
    # A command without the option says so rather than ignoring it.
    refused = cli("--url", dockit.url, "api-server")
    assert refused.code == EXIT_USAGE, refused
    assert "`dockit api-server` has no --url option" in refused.stderr


# -- the URL -----------------------------------------------------------------------------------


def test_api_prefix_in_dockit_url_is_accepted(cli: Cli, dockit: DockitServer) -> None:
    env = {"DOCKIT_USERNAME": ADMIN, "DOCKIT_PASSWORD": ADMIN_PASSWORD}
    for url in (dockit.url + "/api/v1", dockit.url + "/api/v1/"):
        result = cli("user", "show", ADMIN, env={**env, "DOCKIT_URL": url})
        assert result.code == EXIT_OK, result


def test_a_path_with_no_route_says_to_check_the_url(cli: Cli, dockit: DockitServer) -> None:
    env = {"DOCKIT_USERNAME": ADMIN, "DOCKIT_PASSWORD": ADMIN_PASSWORD}
    result = cli("user", "list", env={**env, "DOCKIT_URL": dockit.url + "/dockit"})
    assert result.code == EXIT_NOT_FOUND, result
    line = one_line(result.stderr)
    assert f"Dockit at {dockit.url}/dockit has no route /api/v1/users: check --url" in line
    assert line != "dockit user list: 404 Not Found"


def test_https_to_a_plain_http_port(cli: Cli, dockit: DockitServer) -> None:
    env = {"DOCKIT_USERNAME": ADMIN, "DOCKIT_PASSWORD": ADMIN_PASSWORD}
    https_url = dockit.url.replace("http://", "https://")
    result = cli("user", "list", "--url", https_url, env=env)
    assert result.code == EXIT_USAGE, result
    line = one_line(result.stderr)
    assert f"this port speaks plain HTTP, not HTTPS; use {dockit.url}" in line
    assert "WRONG_VERSION_NUMBER" not in line
    assert ADMIN_PASSWORD not in line
