"""The Admin API's refresh-token routes, and refresh tokens as Admin API credentials."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import urlencode

import falcon.testing
import pytest

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.ring import ensure_active_key
from libdockit.refresh import hash_refresh_token

from .conftest import ADMIN, ADMIN_PASSWORD, USER, USER_PASSWORD, Api, assert_error, basic
from .test_openapi import DOC, check

SERVICE = "registry.test"


@pytest.fixture(autouse=True)
def signing_key(backend: MemoryBackend) -> None:
    ensure_active_key(backend, now=datetime.now(UTC))


def docker_login(
    client: falcon.testing.TestClient,
    username: str = USER,
    password: str = USER_PASSWORD,
    service: str = SERVICE,
) -> str:
    """What ``docker login`` sends; returns the refresh token it would store."""
    query = urlencode(
        {"account": username, "client_id": "docker", "offline_token": "true", "service": service}
    )
    result = client.simulate_get("/v2/token", query_string=query, headers=basic(username, password))
    assert result.status_code == 200, result.text
    value = result.json["refresh_token"]
    assert isinstance(value, str)
    return value


def schema_of(path: str, method: str, status: str) -> dict[str, object]:
    operation = DOC["paths"]["/api/v1" + path][method]
    response: dict[str, object] = operation["responses"][status]
    return response


def test_list(api: Api, client: falcon.testing.TestClient) -> None:
    first = docker_login(client)
    second = docker_login(client, service="other.test")
    result = api.get(f"/users/{USER}/refresh-tokens")
    assert result.status_code == 200, result.text
    body = result.json
    assert body["total"] == 2
    assert (body["offset"], body["limit"]) == (0, 100)
    assert {item["service"] for item in body["items"]} == {SERVICE, "other.test"}
    for item in body["items"]:
        assert set(item) == {
            "id",
            "username",
            "service",
            "client_id",
            "created_at",
            "last_used_at",
            "expires_at",
            "source",
        }
        assert (item["username"], item["client_id"], item["last_used_at"], item["source"]) == (
            USER,
            "docker",
            None,
            "local",
        )
        assert item["expires_at"] is not None
    for value in (first, second):
        assert value not in result.text
        assert hash_refresh_token(value) not in result.text
    response = schema_of("/users/{username}/refresh-tokens", "get", "200")
    content = response["content"]
    assert isinstance(content, dict)
    assert check(content["application/json"]["schema"], body) == []
    paged = api.get(f"/users/{USER}/refresh-tokens", params={"offset": "1", "limit": "1"}).json
    assert paged["items"] == body["items"][1:]
    assert api.get(f"/users/{ADMIN}/refresh-tokens").json["items"] == []


def test_list_errors(api: Api) -> None:
    assert_error(api.get("/users/nobody/refresh-tokens"), 404, "NOT_FOUND")
    assert_error(api.get("/users/a*/refresh-tokens"), 400, "INVALID_FIELD", "username")
    bad_limit = api.get(f"/users/{USER}/refresh-tokens", params={"limit": "0"})
    assert_error(bad_limit, 400, "INVALID_FIELD", "limit")
    unknown = api.get(f"/users/{USER}/refresh-tokens", params={"service": "x"})
    assert_error(unknown, 400, "INVALID_FIELD", "service")


def test_last_used_is_listed(api: Api, client: falcon.testing.TestClient) -> None:
    value = docker_login(client)
    used = client.simulate_get(
        "/v2/token", query_string=f"service={SERVICE}", headers=basic("<token>", value)
    )
    assert used.status_code == 200
    (item,) = api.get(f"/users/{USER}/refresh-tokens").json["items"]
    assert item["last_used_at"] is not None


def test_revoke_all(api: Api, client: falcon.testing.TestClient, backend: MemoryBackend) -> None:
    docker_login(client)
    docker_login(client)
    kept = docker_login(client, ADMIN, ADMIN_PASSWORD)
    result = api.delete("/users/ALICE/refresh-tokens")
    assert result.status_code == 200
    assert result.json == {"username": USER, "revoked": 2}
    assert api.delete(f"/users/{USER}/refresh-tokens").json == {"username": USER, "revoked": 0}
    assert backend.list_refresh_tokens().total == 1
    assert backend.find_refresh_token(hash_refresh_token(kept)) is not None
    assert_error(api.delete("/users/nobody/refresh-tokens"), 404, "NOT_FOUND")


def test_revoke_one(api: Api, client: falcon.testing.TestClient, backend: MemoryBackend) -> None:
    value = docker_login(client)
    other = docker_login(client)
    record = backend.find_refresh_token(hash_refresh_token(value))
    assert record is not None
    gone = api.delete(f"/refresh-tokens/{record.id}")
    assert gone.status_code == 204
    assert gone.content == b""
    assert_error(api.delete(f"/refresh-tokens/{record.id}"), 404, "NOT_FOUND")
    assert backend.find_refresh_token(hash_refresh_token(other)) is not None
    refused = client.simulate_get(
        "/v2/token", query_string=f"service={SERVICE}", headers=basic(USER, value)
    )
    assert_error(refused, 401, "UNAUTHORIZED")


# -- refresh tokens as Admin API credentials -------------------------------------------------


@pytest.mark.parametrize("username", [ADMIN, "ROOT", "<token>", ""])
def test_an_admins_refresh_token_is_a_password(
    api: Api, client: falcon.testing.TestClient, username: str
) -> None:
    value = docker_login(client, ADMIN, ADMIN_PASSWORD)
    result = api.get("/users", headers=basic(username, value))
    assert result.status_code == 200, result.text
    # Any of the admin's tokens, whatever registry service it is for.
    other = docker_login(client, ADMIN, ADMIN_PASSWORD, service="elsewhere.test")
    assert api.get("/users", headers=basic(username, other)).status_code == 200


def test_refresh_token_credentials_are_checked(api: Api, client: falcon.testing.TestClient) -> None:
    admin_token = docker_login(client, ADMIN, ADMIN_PASSWORD)
    user_token = docker_login(client)
    entry = assert_error(api.get("/users", headers=basic(USER, user_token)), 403, "DENIED")
    assert "not an admin" in entry["message"]
    assert_error(api.get("/users", headers=basic(USER, admin_token)), 401, "UNAUTHORIZED")
    unknown = basic("<token>", "dkr_" + "q" * 43)
    assert_error(api.get("/users", headers=unknown), 401, "UNAUTHORIZED")
    empty_user = {"Authorization": "Basic " + base64.b64encode(b":" + b"pw").decode()}
    assert_error(api.get("/users", headers=empty_user), 401, "UNAUTHORIZED")


def test_user_changes_through_the_api_revoke(
    api: Api, client: falcon.testing.TestClient, backend: MemoryBackend
) -> None:
    def count() -> int:
        return backend.list_refresh_tokens(username=USER).total

    docker_login(client)
    assert api.patch(f"/users/{USER}", json={"admin": True}).status_code == 200
    assert count() == 1  # promoting or demoting keeps them: each use re-reads the flag
    assert api.put(f"/users/{USER}/password", json={"password": "pw-999999"}).status_code == 204
    assert count() == 0
    docker_login(client, password="pw-999999")
    assert api.patch(f"/users/{USER}", json={"enabled": False}).status_code == 200
    assert count() == 0
    api.patch(f"/users/{USER}", json={"enabled": True})
    docker_login(client, password="pw-999999")
    assert api.delete(f"/users/{USER}").status_code == 204
    assert backend.list_refresh_tokens().total == 0


def test_a_demoted_admins_token_stops_working_for_the_api(
    api: Api, client: falcon.testing.TestClient
) -> None:
    api.patch(f"/users/{USER}", json={"admin": True})
    value = docker_login(client)
    assert api.get("/groups", headers=basic(USER, value)).status_code == 200
    api.patch(f"/users/{USER}", json={"admin": False})
    assert_error(api.get("/groups", headers=basic(USER, value)), 403, "DENIED")
