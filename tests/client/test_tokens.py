"""``dockit tokens list|revoke|revoke-all`` through the real server, with refresh tokens that
``GET /v2/token?offline_token=true`` hands out as to ``docker login``; and against a fake,
an older server without the routes and answers that are not right."""

from __future__ import annotations

from typing import Any

import pytest

from dockit_server.client.errors import (
    EXIT_DENIED,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
)
from tests.client.conftest import MakeUser
from tests.client.fake_api import CREDS, answer, fake_api
from tests.client.helpers import Canned, Cli, unique
from tests.support.dockit import DockitServer


def docker_login(dockit: DockitServer, user: str) -> str:
    """A refresh token for ``user``, as ``docker login`` gets one; returns its value."""
    params = {"offline_token": "true", "client_id": "docker"}
    got = dockit.token(dockit.services[0], [], (user, f"{user}-pw"), params=params)
    assert got.status == 200, got
    value: str = got.json["refresh_token"]
    return value


def tokens_of(dockit: DockitServer, user: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = dockit.admin(
        "GET", f"/users/{user}/refresh-tokens", expect=200
    ).json()["items"]
    return items


def test_list(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    empty = admin_cli("tokens", "list", user)
    assert empty.code == EXIT_OK, empty
    assert empty.stdout == f"{user} has no refresh tokens\n"
    assert admin_cli("tokens", "list", user, "-o", "json").json() == []

    docker_login(dockit, user)
    docker_login(dockit, user)
    result = admin_cli("tokens", "list", f"user:{user}")
    assert result.code == EXIT_OK, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "SOURCE",
        "SERVICE",
        "CLIENT",
        "CREATED",
        "LAST",
        "USED",
        "EXPIRES",
    ]
    stored = tokens_of(dockit, user)
    assert [line.split() for line in lines[1:]] == [
        [t["id"], "local", dockit.services[0], "docker", t["created_at"], "never", t["expires_at"]]
        for t in stored
    ]
    as_json = admin_cli("tokens", "list", user, "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    assert as_json.json() == stored
    assert len(stored) == 2


def test_revoke(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    value = docker_login(dockit, user)
    keep = docker_login(dockit, user)
    [token_id] = [t["id"] for t in tokens_of(dockit, user)][1:]  # newest first: the first login
    result = admin_cli("tokens", "revoke", token_id)
    assert result.code == EXIT_OK, result
    assert result.stdout == (
        f"revoked refresh token {token_id}; a docker login that used it must log in again\n"
    )
    assert len(tokens_of(dockit, user)) == 1
    assert token_id not in [t["id"] for t in tokens_of(dockit, user)]
    assert dockit.token(dockit.services[0], [], (user, value)).status == 401
    assert dockit.token(dockit.services[0], [], (user, keep)).status == 200

    again = admin_cli("tokens", "revoke", token_id)
    assert again.code == EXIT_NOT_FOUND, again
    assert f"refresh token '{token_id}' not found" in again.stderr

    [other] = tokens_of(dockit, user)
    as_json = admin_cli("tokens", "revoke", other["id"], "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    assert as_json.json() == {"id": other["id"], "revoked": True}
    assert tokens_of(dockit, user) == []


def test_revoke_all(admin_cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    values = [docker_login(dockit, user) for _ in range(2)]
    result = admin_cli("tokens", "revoke-all", user)
    assert result.code == EXIT_OK, result
    assert result.stdout == (
        f"revoked 2 refresh tokens of {user}; every docker login of {user} with one must "
        "log in again\n"
    )
    assert tokens_of(dockit, user) == []
    assert all(dockit.token(dockit.services[0], [], (user, v)).status == 401 for v in values)
    again = admin_cli("tokens", "revoke-all", user)
    assert again.stdout == f"revoked 0 refresh tokens of {user}\n"
    docker_login(dockit, user)
    as_json = admin_cli("tokens", "revoke-all", f"user:{user}", "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    assert as_json.json() == {"username": user, "revoked": 1}


@pytest.mark.parametrize("command", ["list", "revoke-all"])
def test_unknown_user(admin_cli: Cli, command: str) -> None:
    name = unique("nobody")
    result = admin_cli("tokens", command, name)
    assert result.code == EXIT_NOT_FOUND, result
    assert f"user '{name}' not found" in result.stderr
    assert result.stdout == ""


def test_tokens_need_an_admin(cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    docker_login(dockit, user)
    env = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": user, "DOCKIT_PASSWORD": f"{user}-pw"}
    for args in (["list", user], ["revoke", "0123456789abcdef"], ["revoke-all", user]):
        result = cli("tokens", *args, env=env)
        assert result.code == EXIT_DENIED, result
        assert f"{user} is not an admin" in result.stderr
    assert len(tokens_of(dockit, user)) == 1


# -- against a fake ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "route"),
    [
        (["list", "bob"], "GET /api/v1/users/{username}/refresh-tokens"),
        (["revoke", "abc"], "DELETE /api/v1/refresh-tokens/{token_id}"),
        (["revoke-all", "bob"], "DELETE /api/v1/users/{username}/refresh-tokens"),
    ],
)
def test_an_older_server(cli: Cli, args: list[str], route: str) -> None:
    with fake_api({}) as (url, seen):
        result = cli("tokens", *args, "--url", url, env=CREDS)
    assert result.code == EXIT_NOT_FOUND, result
    assert f"has no {route}: it is older than this dockit command" in result.stderr
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("args", "route", "canned"),
    [
        (["list", "bob"], "GET /api/v1/users/bob/refresh-tokens", answer(200, {"items": []})),
        (["revoke-all", "bob"], "DELETE /api/v1/users/bob/refresh-tokens", answer(200, {})),
        (["revoke-all", "bob"], "DELETE /api/v1/users/bob/refresh-tokens", Canned(204, b"", ())),
    ],
)
def test_answers_that_are_not_right(cli: Cli, args: list[str], route: str, canned: Canned) -> None:
    with fake_api({route: canned}) as (url, _):
        result = cli("tokens", *args, "--url", url, env=CREDS)
    assert result.code == EXIT_FAILURE, result
    assert "unexpected answer" in result.stderr


def test_ids_and_names_are_one_path_segment(cli: Cli) -> None:
    with fake_api({}) as (url, seen):
        cli("tokens", "revoke", "../users/x", "--url", url, env=CREDS)
        cli("tokens", "list", "a/b", "--url", url, env=CREDS)
    assert [request.path for request in seen] == [
        "/api/v1/refresh-tokens/..%2Fusers%2Fx",
        "/api/v1/users/a%2Fb/refresh-tokens",
    ]


def test_a_user_must_be_named(cli: Cli) -> None:
    with fake_api({}) as (url, seen):
        result = cli("tokens", "list", "user:", "--url", url, env=CREDS)
    assert result.code == 2, result
    assert "name a user: 'user:'" in result.stderr
    assert seen == []
