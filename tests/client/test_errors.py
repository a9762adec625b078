"""Exit codes and messages when things go wrong before or around the Admin API: unreachable,
slow, not Dockit, redirects, bad flags, no credentials; and that secrets stay out of output."""

from __future__ import annotations

import argparse
import base64
import io
import json
import socket
from collections.abc import Iterator

import pytest

from dockit_server.cli import main
from dockit_server.client.commands.common import Context
from dockit_server.client.credential_record import Credentials
from dockit_server.client.errors import (
    EXIT_CODES_HELP,
    EXIT_DENIED,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from libdockit.secret import Secret
from tests.client.helpers import Canned, Cli, fake_http
from tests.support.procs import LOOPBACK, free_port

SECRET = "very-secret-pw-42"
CREDS = {"DOCKIT_USERNAME": "root", "DOCKIT_PASSWORD": SECRET}


def dockit_error(status: int, code: str, message: str) -> Canned:
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
    return Canned(status, body)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text
        assert base64.b64encode(f"root:{SECRET}".encode()).decode() not in text


def test_connection_refused(cli: Cli) -> None:
    url = f"http://{LOOPBACK}:{free_port()}"
    result = cli("user", "list", "--url", url, env=CREDS)
    assert result.code == EXIT_UNREACHABLE, result
    assert f"cannot reach Dockit at {url}: connection refused" in result.stderr
    assert_no_secret(result.stdout, result.stderr)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_timeout(cli: Cli, silent_port: int) -> None:
    url = f"http://{LOOPBACK}:{silent_port}"
    result = cli("group", "list", "--url", url, "--timeout", "0.3", env=CREDS)
    assert result.code == EXIT_UNREACHABLE, result
    assert "timed out" in result.stderr


@pytest.mark.parametrize(
    ("answer", "code", "said"),
    [
        (
            dockit_error(503, "UNAVAILABLE", "the store cannot answer"),
            EXIT_UNREACHABLE,
            "cannot answer now: the store cannot answer (UNAVAILABLE, HTTP 503)",
        ),
        (
            Canned(502, b"<html>Bad Gateway</html>", (("Content-Type", "text/html"),)),
            EXIT_UNREACHABLE,
            "answered HTTP 502 without a Dockit error body",
        ),
        (
            Canned(404, b"<html>nope</html>", (("Content-Type", "text/html"),)),
            EXIT_FAILURE,
            "is --url pointing at Dockit?",
        ),
        (
            Canned(200, b"<html>hello</html>", (("Content-Type", "text/html"),)),
            EXIT_FAILURE,
            "is not JSON",
        ),
        (Canned(200, b"[1, 2]"), EXIT_FAILURE, "not a JSON object"),
        (
            Canned(302, b"", (("Location", "https://elsewhere.test/api/v1/users"),)),
            EXIT_FAILURE,
            "a redirect to https://elsewhere.test/api/v1/users",
        ),
    ],
)
def test_answers_that_are_not_right(cli: Cli, answer: Canned, code: int, said: str) -> None:
    with fake_http(answer) as (url, recorder):
        result = cli("user", "show", "someone", "--url", url, env=CREDS)
    assert result.code == code, result
    assert said in result.stderr
    assert len(recorder.requests) == 1
    assert recorder.requests[0]["path"] == "/api/v1/users/someone"
    assert_no_secret(result.stdout, result.stderr)


def test_what_the_client_sends(cli: Cli) -> None:
    with fake_http(Canned(201, b'{"name": "a/b", "enabled": true, "members": []}')) as (
        url,
        recorder,
    ):
        result = cli("group", "add", "a/b", "--disabled", "--url", url + "/", env=CREDS)
    assert result.code == EXIT_OK, result
    [request] = recorder.requests
    assert (request["method"], request["path"]) == ("POST", "/api/v1/groups")
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert (
        headers["authorization"] == "Basic " + base64.b64encode(f"root:{SECRET}".encode()).decode()
    )
    assert json.loads(request["body"]) == {"name": "a/b", "enabled": False}


def test_names_are_one_path_segment(cli: Cli) -> None:
    with fake_http(dockit_error(404, "NOT_FOUND", "no such user")) as (url, recorder):
        result = cli("user", "show", "../groups/x?y", "--url", url, env=CREDS)
    assert result.code == 3, result
    assert recorder.requests[0]["path"] == "/api/v1/users/..%2Fgroups%2Fx%3Fy"


def test_paging_reads_every_page(cli: Cli) -> None:
    page = {
        "items": [{"username": "u1", "enabled": True, "admin": False, "groups": []}],
        "total": 2,
        "offset": 0,
        "limit": 1000,
    }
    with fake_http(Canned(200, json.dumps(page).encode())) as (url, recorder):
        result = cli("user", "list", "--url", url, "-o", "json", env=CREDS)
    assert result.code == EXIT_OK, result
    assert len(result.json()) == 2
    assert [r["path"] for r in recorder.requests] == [
        "/api/v1/users?offset=0&limit=1000",
        "/api/v1/users?offset=1&limit=1000",
    ]


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/", "127.0.0.1:4315", "http://root:pw@127.0.0.1:4315", "http://h:x/"]
)
def test_bad_url(cli: Cli, url: str) -> None:
    result = cli("user", "list", "--url", url, env=CREDS)
    assert result.code == EXIT_USAGE, result
    assert "--url" in result.stderr
    assert "root:pw" not in result.stderr


def test_url_from_the_environment(cli: Cli) -> None:
    with fake_http() as (url, recorder):
        result = cli("group", "list", env={**CREDS, "DOCKIT_URL": url})
    assert result.code == EXIT_OK, result
    assert result.stdout == "no groups\n"
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://dockit.example.com", True),
        ("http://192.0.2.1:4315", True),
        ("https://dockit.example.com", False),
        ("http://127.0.0.1:4315", False),
        ("http://[::1]:4315", False),
        ("http://localhost:4315", False),
    ],
)
def test_plain_http_off_this_machine_warns(url: str, warned: bool) -> None:
    # Checked without connecting anywhere: tests only talk to 127.0.0.1.
    stderr = io.StringIO()
    args = argparse.Namespace(output="table")
    ctx = Context(args, {}, io.StringIO(), io.StringIO(), stderr)
    ctx._warn_plain_http(url, Credentials("root", Secret(SECRET), "test"))
    assert (
        "warning: sending the credentials of root over plain http" in stderr.getvalue()
    ) is warned
    assert_no_secret(stderr.getvalue())


def test_no_credentials_says_where_to_get_them(cli: Cli) -> None:
    with fake_http() as (url, recorder):
        result = cli("user", "list", "--url", url)
        assert recorder.requests == []
    assert result.code == EXIT_DENIED, result
    assert "--registry HOST" in result.stderr
    assert "DOCKIT_REGISTRY" in result.stderr
    assert "--username" in result.stderr


def test_password_without_username(cli: Cli) -> None:
    result = cli("user", "list", env={"DOCKIT_PASSWORD": SECRET})
    assert result.code == EXIT_USAGE, result
    assert "DOCKIT_USERNAME" in result.stderr
    assert_no_secret(result.stderr)


def test_flags_win_over_the_environment(cli: Cli) -> None:
    with fake_http() as (url, recorder):
        result = cli(
            "user",
            "list",
            "--url",
            url,
            "--username",
            "flagged",
            tty=True,
            prompts=["typed"],
            env={**CREDS, "DOCKIT_URL": "http://127.0.0.1:1", "DOCKIT_PASSWORD": ""},
        )
    assert result.code == EXIT_OK, result
    auth = recorder.requests[0]["headers"]["Authorization"]
    assert auth == "Basic " + base64.b64encode(b"flagged:typed").decode()


@pytest.mark.parametrize(
    "args",
    [
        ["user"],
        ["user", "add"],
        ["user", "list", "--output", "yaml"],
        ["user", "list", "--timeout", "0"],
        ["grant", "user:a"],
        ["group", "frobnicate"],
        ["user", "add", "bob", "--password", "pw"],
    ],
)
def test_usage_errors(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert result.code == EXIT_USAGE, result
    assert "usage:" in result.stderr


def test_help_lists_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert EXIT_CODES_HELP in text
    for command in (
        "api-server",
        "init-container",
        "bootstrap-admin",
        "user",
        "group",
        "grant",
        "revoke",
        "grants",
        "permissions",
    ):
        assert f"\n    {command} " in text or f"\n    {command}\n" in text
