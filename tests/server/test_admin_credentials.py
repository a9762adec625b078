"""Robot accounts and personal access tokens through the Admin API: admins manage robots;
any user who logs in with their password manages their own personal tokens (no admin
flag), never someone else's; secrets only in the answer that makes them; caps and name
conflicts refused with clear errors."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.ring import ensure_active_key

from .conftest import USER, USER_AUTH, Api, Hashes, assert_error, basic

SECRET = re.compile(r"dkt_[A-Za-z0-9_-]{43}")
BOB_AUTH = basic("bob", "alice-password-1")  # bob shares alice's password hash here


@pytest.fixture
def store(backend: MemoryBackend, hashes: Hashes) -> MemoryBackend:
    backend.create_user("bob", hashes.user)
    return backend


def audit_text(api: Api) -> str:
    return json.dumps(api.get("/audit", params={"limit": "1000"}).json)


def test_robot_routes(api: Api, store: MemoryBackend) -> None:
    made = api.post("/robots", json={"name": "CI", "owner": "user:bob", "expires_in": 86400})
    assert made.status_code == 201, made.text
    assert made.headers["Location"] == "/api/v1/robots/ci"
    assert made.headers["Cache-Control"] == "no-store"
    secret = made.json["secret"]
    assert SECRET.fullmatch(secret)
    assert made.json["name"] == "ci"
    shown = api.get("/robots/ci").json
    assert "secret" not in shown
    assert shown == {key: value for key, value in made.json.items() if key != "secret"}
    assert [r["name"] for r in api.get("/robots", params={"owner": "user:bob"}).json["items"]] == [
        "ci"
    ]
    assert api.get("/robots", params={"owner": "user:alice"}).json["total"] == 0
    rotated = api.post("/robots/ci/secret")
    assert rotated.status_code == 200, rotated.text
    assert rotated.json["secret"] != secret
    assert rotated.json["expires_at"] == made.json["expires_at"]
    later = api.post("/robots/ci/secret", json={"expires_at": "2099-01-01T00:00:00Z"})
    assert_error(later, 400, "INVALID_FIELD", "expires_at")
    assert "at most 365 days" in later.json["errors"][0]["message"]
    assert api.patch("/robots/ci", json={"enabled": False}).json["enabled"] is False
    assert api.delete("/robots/ci").status_code == 204
    assert_error(api.get("/robots/ci"), 404, "NOT_FOUND")
    recorded = audit_text(api)
    assert secret not in recorded
    assert rotated.json["secret"] not in recorded
    assert "robot.rotate" in recorded


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "ci", "owner": "user:bob"}, "expires_at", "needs an expiry"),
        ({"name": "ci", "owner": "user:bob", "expires_in": 366 * 86400}, "expires_in", "365"),
        ({"name": "ci", "owner": "user:bob", "never": True}, "never", "must expire"),
        ({"name": "ci", "owner": "user:bob", "expires_at": "2030-01-01"}, "expires_at", "zone"),
        (
            {"name": "ci", "owner": "user:bob", "expires_in": 60, "expires_at": "x"},
            "expires_in",
            "not both",
        ),
        ({"name": "ci", "owner": "anonymous", "expires_in": 60}, "owner", "user:NAME"),
        ({"name": "c i", "owner": "user:bob", "expires_in": 60}, "name", ""),
        (
            {"name": "ci", "owner": "user:bob", "expires_in": 60, "access_token_lifetime": 0},
            "access_token_lifetime",
            "",
        ),
    ],
)
def test_robot_refusals(
    api: Api, store: MemoryBackend, body: dict[str, Any], field: str, words: str
) -> None:
    entry = assert_error(api.post("/robots", json=body), 400, "INVALID_FIELD", field)
    assert words in entry["message"]
    assert api.get("/robots").json["total"] == 0


def test_robot_names_are_not_users_names(api: Api, store: MemoryBackend) -> None:
    taken = api.post("/robots", json={"name": "bob", "owner": "user:bob", "expires_in": 60})
    assert_error(taken, 409, "CONFLICT")
    missing = api.post("/robots", json={"name": "ci", "owner": "group:nope", "expires_in": 60})
    assert_error(missing, 404, "NOT_FOUND")
    assert (
        api.post("/robots", json={"name": "ci", "owner": "user:bob", "expires_in": 60}).status_code
        == 201
    )
    again = api.post("/robots", json={"name": "ci", "owner": "user:bob", "expires_in": 60})
    assert_error(again, 409, "CONFLICT")
    user = api.post("/users", json={"username": "ci", "password": "a-long-password-1"})
    assert_error(user, 409, "CONFLICT")
    assert "robot account" in user.json["errors"][0]["message"]


def test_personal_tokens_are_self_service(api: Api, store: MemoryBackend) -> None:
    made = api.post(
        "/tokens",
        headers=USER_AUTH,
        json={"name": "laptop", "scopes": ["repository:alice/**:pull"], "expires_in": 3600},
    )
    assert made.status_code == 201, made.text
    assert made.json["owner"] == f"user:{USER}"
    assert made.headers["Cache-Control"] == "no-store"
    secret, token_id = made.json["secret"], made.json["id"]
    assert SECRET.fullmatch(secret)
    mine = api.get("/tokens", headers=USER_AUTH).json
    assert [t["id"] for t in mine["items"]] == [token_id]
    assert "secret" not in mine["items"][0]
    assert api.get("/tokens", headers=BOB_AUTH).json["total"] == 0
    assert_error(api.delete(f"/tokens/{token_id}", headers=BOB_AUTH), 404, "NOT_FOUND")
    assert_error(api.get(f"/users/{USER}/tokens", headers=BOB_AUTH), 403, "DENIED")
    assert [t["id"] for t in api.get(f"/users/{USER}/tokens").json["items"]] == [token_id]
    assert api.delete(f"/tokens/{token_id}", headers=USER_AUTH).status_code == 204
    assert api.get("/tokens", headers=USER_AUTH).json["total"] == 0

    other = api.post("/tokens", headers=BOB_AUTH, json={"name": "ci"}).json
    assert other["expires_at"] is not None  # the longest allowed: 90 days
    assert api.delete(f"/tokens/{other['id']}").status_code == 204  # an admin: anyone's
    too_long = api.post("/tokens", headers=USER_AUTH, json={"name": "x", "expires_in": 91 * 86400})
    assert (
        "at most 90 days" in assert_error(too_long, 400, "INVALID_FIELD", "expires_in")["message"]
    )
    recorded = audit_text(api)
    assert secret not in recorded
    assert other["secret"] not in recorded
    assert f"pat:{token_id}" in recorded


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, b"not json", 401),  # no credentials: 401 before the body is read
        ({**USER_AUTH, "Content-Type": "text/plain"}, b"{}", 415),
        (
            {**USER_AUTH, "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
            b"{}",
            403,
        ),
        ({**USER_AUTH, "Content-Type": "application/json"}, b'{"name": "x", "admin": true}', 400),
    ],
)
def test_self_service_writes_are_protected(
    api: Api, store: MemoryBackend, headers: dict[str, str], body: bytes, status: int
) -> None:
    result = api.client.simulate_post("/api/v1/tokens", headers=headers, body=body)
    assert result.status_code == status, result.text
    assert api.get("/tokens", headers=USER_AUTH).json["total"] == 0


def test_a_credential_cannot_manage_credentials(api: Api, store: MemoryBackend) -> None:
    """Managing them takes the user's own password: a secret gets 403 (the secret works at
    the token endpoint, the login path's), and nothing is made."""
    ensure_active_key(store, now=datetime.now(UTC))
    secret = api.post("/tokens", headers=USER_AUTH, json={"name": "laptop"}).json["secret"]
    robot = api.post("/robots", json={"name": "ci", "owner": "user:bob", "expires_in": 600})
    for auth in (basic(USER, secret), basic("ci", robot.json["secret"])):
        refused = api.post("/tokens", headers=auth, json={"name": "x"})
        assert "cannot use the Admin API" in assert_error(refused, 403, "DENIED")["message"]
        assert_error(api.get("/tokens", headers=auth), 403, "DENIED")
        answer = api.client.simulate_get(
            "/v2/token", query_string="service=registry.test", headers=auth
        )
        assert answer.status_code == 200, answer.text
    assert api.get("/tokens", headers=USER_AUTH).json["total"] == 1
    # The refusals are recorded under the credential's own actor: the robot is no user.
    refusals = api.get("/audit", params={"action": "admin.refuse", "limit": "1000"}).json
    assert sorted({event["actor"] for event in refusals["items"]}) == ["robot:ci", f"user:{USER}"]
