"""The /api/v1/users routes."""

from __future__ import annotations

import logging

import pytest

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import AuthenticationFailed
from libdockit.secret import Secret
from libdockit.service import TokenService

from .conftest import ADMIN, ADMIN_AUTH, USER, USER_PASSWORD, Api, Hashes, assert_error, basic

USER_KEYS = {"username", "enabled", "admin", "groups", "created_at", "updated_at"}


def test_list_users_default_paging(api: Api) -> None:
    result = api.get("/users")
    assert result.status_code == 200
    body = result.json
    assert body["total"] == 2
    assert (body["offset"], body["limit"]) == (0, 100)
    assert [u["username"] for u in body["items"]] == [USER, ADMIN]
    assert all(set(u) == USER_KEYS for u in body["items"])
    assert result.headers["Cache-Control"] == "no-store"


def test_list_users_pages(api: Api, backend: MemoryBackend, hashes: Hashes) -> None:
    for name in ("bob", "carol", "dave"):
        backend.create_user(name, hashes.user)
    body = api.get("/users", params={"offset": "1", "limit": "2"}).json
    assert [u["username"] for u in body["items"]] == ["bob", "carol"]
    assert (body["total"], body["offset"], body["limit"]) == (5, 1, 2)
    assert api.get("/users", params={"offset": "9"}).json["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("offset=abc", "offset"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("limit=1&limit=2", "limit"),
        ("ofset=1", "ofset"),
    ],
)
def test_list_users_bad_paging(api: Api, query: str, field: str) -> None:
    result = api.client.simulate_get("/api/v1/users", query_string=query, headers=ADMIN_AUTH)
    entry = assert_error(result, 400, "INVALID_FIELD", field)
    assert field in entry["message"]


def test_create_user(api: Api, tokens: TokenService) -> None:
    result = api.post("/users", json={"username": "Bob", "password": "bob-secret-9"})
    assert result.status_code == 201
    assert result.headers["Location"] == "/api/v1/users/bob"
    body = result.json
    assert set(body) == USER_KEYS
    assert body["username"] == "bob"
    assert (body["enabled"], body["admin"], body["groups"]) == (True, False, [])
    assert body["created_at"].endswith("Z")
    assert "bob-secret-9" not in result.text
    assert "argon2" not in result.text
    identity = tokens.authenticate("bob", Secret("bob-secret-9"))
    assert identity.username == "bob"
    assert not identity.is_admin


def test_create_admin_disabled(api: Api) -> None:
    body = api.post(
        "/users",
        json={"username": "ops", "password": "pw-123456", "admin": True, "enabled": False},
    ).json
    assert (body["admin"], body["enabled"]) == (True, False)
    assert api.get("/users/ops").json == body


def test_create_existing_user_conflicts(api: Api) -> None:
    result = api.post("/users", json={"username": "ALICE", "password": "x-123456"})
    assert_error(result, 409, "CONFLICT")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "pw-long-enough"}, "username"),
        ({"username": "bob"}, "password"),
        ({"username": 7, "password": "pw-long-enough"}, "username"),
        ({"username": "bob", "password": None}, "password"),
        ({"username": "bob", "password": "pw-long-enough", "admin": "yes"}, "admin"),
        ({"username": "bob", "password": "pw-long-enough", "enabled": 1}, "enabled"),
        ({"username": "bob", "password": "pw-long-enough", "admn": True}, "admn"),
        ({"username": "-bob-", "password": "pw-long-enough"}, "username"),
        ({"username": "bob", "password": ""}, "password"),
        ({"username": "bob", "password": "a\x00b"}, "password"),
    ],
)
def test_create_user_bad_fields(api: Api, body: dict[str, object], field: str) -> None:
    entry = assert_error(api.post("/users", json=body), 400, "INVALID_FIELD", field)
    assert field in entry["message"]
    assert api.get("/users").json["total"] == 2


def test_unknown_fields_are_all_named(api: Api) -> None:
    body = {"username": "bob", "password": "pw", "zeta": 1, "admn": True}
    entry = assert_error(api.post("/users", json=body), 400, "INVALID_FIELD")
    assert entry["detail"]["fields"] == ["admn", "zeta"]
    assert "admn" in entry["message"]
    assert "zeta" in entry["message"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b'["bob"]', "JSON object"),
        (b'"bob"', "JSON object"),
        (b'{"username": "a", "username": "b", "password": "p"}', "more than once"),
        (b'{"username": "bob", "password": NaN}', "not valid JSON"),
        (b"\xff\xfe", "UTF-8"),
        (b"[" * 100_000, "large"),
        (b"[" * 60_000, "nested"),
    ],
)
def test_create_user_bad_bodies(api: Api, raw: bytes, fragment: str) -> None:
    headers = {**ADMIN_AUTH, "Content-Type": "application/json"}
    result = api.post("/users", body=raw, headers=headers)
    expected = (413, "BODY_TOO_LARGE") if fragment == "large" else (400, "INVALID_BODY")
    entry = assert_error(result, *expected)
    assert fragment in entry["message"]


def test_body_must_be_json(api: Api) -> None:
    unlabelled = api.post("/users", body='{"username": "bob", "password": "bob-secret-9"}')
    assert_error(unlabelled, 415, "UNSUPPORTED_MEDIA_TYPE")
    headers = {**ADMIN_AUTH, "Content-Type": "text/plain"}
    result = api.post(
        "/users", body='{"username": "bob", "password": "bob-secret-9"}', headers=headers
    )
    assert_error(result, 415, "UNSUPPORTED_MEDIA_TYPE")
    headers["Content-Type"] = "application/merge-patch+json; charset=utf-8"
    result = api.post(
        "/users", body='{"username": "bob", "password": "bob-secret-9"}', headers=headers
    )
    assert result.status_code == 201


def test_get_user(api: Api) -> None:
    body = api.get("/users/Alice").json
    assert body["username"] == USER
    assert body["admin"] is False
    assert_error(api.get("/users/nobody"), 404, "NOT_FOUND")
    assert_error(api.get("/users/-x-"), 400, "INVALID_FIELD", "username")
    assert_error(api.get("/users/alice", params={"x": "1"}), 400, "INVALID_FIELD", "x")


def test_patch_user(api: Api, tokens: TokenService) -> None:
    result = api.patch("/users/alice", json={"enabled": False})
    assert result.status_code == 200
    assert result.json["enabled"] is False
    with pytest.raises(AuthenticationFailed):
        tokens.authenticate(USER, Secret(USER_PASSWORD))
    body = api.patch("/users/alice", json={"enabled": True, "admin": True}).json
    assert (body["enabled"], body["admin"]) == (True, True)
    assert api.get("/users", headers=basic(USER, USER_PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "enabled"),
        ({"enabled": "false"}, "enabled"),
        ({"admin": 0}, "admin"),
        ({"admin": True, "password": "x"}, "password"),
        ({"username": "x"}, "username"),
    ],
)
def test_patch_user_bad_bodies(api: Api, body: dict[str, object], field: str) -> None:
    assert_error(api.patch("/users/alice", json=body), 400, "INVALID_FIELD", field)
    assert api.get("/users/alice").json["admin"] is False


def test_patch_unknown_user(api: Api) -> None:
    assert_error(api.patch("/users/nobody", json={"enabled": False}), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("path_name", "body", "word"),
    [
        (ADMIN, {"enabled": False}, "disable"),
        ("ROOT", {"admin": False}, "admin flag"),
        (ADMIN, {"enabled": True, "admin": False}, "admin flag"),
    ],
)
def test_admin_cannot_lock_themselves_out(
    api: Api, path_name: str, body: dict[str, object], word: str
) -> None:
    entry = assert_error(api.patch(f"/users/{path_name}", json=body), 409, "CONFLICT")
    assert word in entry["message"]
    assert "another admin" in entry["message"]
    user = api.get("/users/root").json
    assert (user["enabled"], user["admin"]) == (True, True)


def test_admin_may_keep_own_flags(api: Api) -> None:
    result = api.patch("/users/root", json={"enabled": True, "admin": True})
    assert result.status_code == 200


def test_admin_cannot_delete_themselves(api: Api) -> None:
    entry = assert_error(api.delete("/users/Root"), 409, "CONFLICT")
    assert "your own account" in entry["message"]
    assert api.get("/users/root").status_code == 200


def test_another_admin_may_demote(api: Api) -> None:
    api.patch("/users/alice", json={"admin": True})
    result = api.patch("/users/root", json={"admin": False}, headers=basic(USER, USER_PASSWORD))
    assert result.status_code == 200
    assert result.json["admin"] is False


def test_delete_user(api: Api) -> None:
    result = api.delete("/users/alice")
    assert result.status_code == 204
    assert result.content == b""
    assert_error(api.get("/users/alice"), 404, "NOT_FOUND")
    assert_error(api.delete("/users/alice"), 404, "NOT_FOUND")


def test_set_password(api: Api, tokens: TokenService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = api.put("/users/alice/password", json={"password": "n3w-secret-pw"})
    assert result.status_code == 204
    assert tokens.authenticate(USER, Secret("n3w-secret-pw")).username == USER
    with pytest.raises(AuthenticationFailed):
        tokens.authenticate(USER, Secret(USER_PASSWORD))
    assert "n3w-secret-pw" not in caplog.text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"password": "pw-123456"}, 404, "NOT_FOUND"),
        ({}, 400, "INVALID_FIELD"),
        ({"password": 12345678}, 400, "INVALID_FIELD"),
    ],
)
def test_set_password_errors(api: Api, body: dict[str, object], status: int, code: str) -> None:
    path = "/users/nobody/password" if status == 404 else "/users/alice/password"
    assert_error(api.put(path, json=body), status, code)


def test_passwords_never_echoed(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sup3r-secret-value"
    results = [
        api.post(
            "/users",
            body='{"username": "bob", "password": "' + secret + '" ,}',
            headers={**ADMIN_AUTH, "Content-Type": "application/json"},
        ),
        api.post("/users", json={"username": "bob", "password": secret, "admin": "no"}),
        api.post("/users", json={"username": "bob", "password": [secret]}),
        api.put("/users/alice/password", json={"password": secret, "extra": secret}),
    ]
    for result in results:
        assert result.status_code == 400
        assert secret not in result.text
    assert secret not in caplog.text


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short-7", "at least 8 characters"),
        ("Password1", "most common passwords"),
        ("ILOVEYOU", "most common passwords"),
        ("12345678", "most common passwords"),
    ],
)
def test_weak_passwords_are_refused(api: Api, password: str, fragment: str) -> None:
    created = api.post("/users", json={"username": "weak", "password": password})
    entry = assert_error(created, 400, "INVALID_FIELD", "password")
    assert fragment in entry["message"]
    changed = api.put("/users/alice/password", json={"password": password})
    assert fragment in assert_error(changed, 400, "INVALID_FIELD", "password")["message"]
    assert api.get("/users").json["total"] == 2
