"""POST /v2/token (distribution's oauth.md) through the real app: every grant type, missing
and malformed fields, unsupported grants, and the refresh token's binding, expiry and
revocation (Admin API password change, disable, delete, revoke)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from urllib.parse import urlencode

import falcon.testing
import pytest

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.model import Grant
from libdockit.refresh import hash_refresh_token
from tests.server.conftest import USER, USER_PASSWORD, assert_error
from tests.server.token.flow import (
    ADMIN_AUTH,
    FORM,
    OTHER,
    SERVICE,
    Clock,
    assert_refused,
    claims,
    new_refresh_token,
    password_grant,
    post,
    refresh_grant,
)

# -- the grants -----------------------------------------------------------------------------


def test_password_grant(client: falcon.testing.TestClient, store: MemoryBackend) -> None:
    result = password_grant(
        client,
        offline=False,
        scope=f"repository:{USER}/app:pull,push,delete repository:other/x:pull",
    )
    assert result.status_code == 200, result.text
    body = result.json
    assert set(body) == {"access_token", "scope", "expires_in", "issued_at"}
    assert body["scope"] == f"repository:{USER}/app:pull,push"
    assert body["expires_in"] == 300
    assert datetime.strptime(body["issued_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert result.headers["cache-control"] == "no-store"
    assert result.headers["pragma"] == "no-cache"
    token = claims(client, body["access_token"])
    assert token["sub"] == USER
    assert token["access"] == [
        {"type": "repository", "name": f"{USER}/app", "actions": ["pull", "push"]},
        {"type": "repository", "name": "other/x", "actions": []},
    ]
    assert store.list_refresh_tokens().total == 0  # not asked for one


def test_password_grant_offline(client: falcon.testing.TestClient, store: MemoryBackend) -> None:
    result = password_grant(client, client_id="containerd-client")
    assert result.status_code == 200, result.text
    value = result.json["refresh_token"]
    assert value.startswith("dkr_")
    (record,) = store.list_refresh_tokens(username=USER).items
    assert record.token_hash == hash_refresh_token(value)
    assert (record.service, record.client_id) == (SERVICE, "containerd-client")


def test_refresh_grant(client: falcon.testing.TestClient, store: MemoryBackend) -> None:
    value = new_refresh_token(client)
    result = refresh_grant(client, value, scope=f"repository:{USER}/app:pull")
    assert result.status_code == 200, result.text
    assert set(result.json) == {"access_token", "scope", "expires_in", "issued_at"}
    assert result.json["scope"] == f"repository:{USER}/app:pull"
    assert claims(client, result.json["access_token"])["sub"] == USER
    again = refresh_grant(client, value, access_type="offline")
    assert again.json["refresh_token"] == value  # the same one: docker stores it once
    assert store.list_refresh_tokens().total == 1
    (record,) = store.list_refresh_tokens().items
    assert record.last_used_at is not None


def test_refresh_grant_gets_current_grants(
    client: falcon.testing.TestClient, store: MemoryBackend
) -> None:
    value = new_refresh_token(client)
    scope = "repository:team/app:pull,push"
    assert refresh_grant(client, value, scope=scope).json["scope"] == ""
    store.add_grant(Grant("authenticated", "repository", "team/*", ("pull",)))
    assert refresh_grant(client, value, scope=scope).json["scope"] == "repository:team/app:pull"
    store.create_group("team")
    store.add_member("team", USER)
    store.add_grant(Grant("group:team", "repository", "team/**", ("push",)))
    granted = refresh_grant(client, value, scope=scope).json["scope"]
    assert granted == "repository:team/app:pull,push"


def test_scopes(client: falcon.testing.TestClient) -> None:
    value = new_refresh_token(client)
    repeated = client.simulate_post(
        "/v2/token",
        body=urlencode(
            [
                ("grant_type", "refresh_token"),
                ("refresh_token", value),
                ("service", SERVICE),
                ("client_id", "docker"),
                ("scope", f"repository:{USER}/a:pull"),
                ("scope", f"repository:{USER}/b:push repository:{USER}/a:push"),
            ]
        ),
        headers=FORM,
    )
    assert repeated.json["scope"] == (f"repository:{USER}/a:pull,push repository:{USER}/b:push")
    empty = refresh_grant(client, value, scope="")  # moby sends scope= with no scopes
    assert empty.status_code == 200
    assert empty.json["scope"] == ""
    assert claims(client, empty.json["access_token"])["access"] == []
    bad = refresh_grant(client, value, scope="repository:UPPER:pull")
    assert_error(bad, 400, "SCOPE_INVALID")


def test_a_password_grant_with_a_refresh_token_as_the_password(
    client: falcon.testing.TestClient, store: MemoryBackend
) -> None:
    value = new_refresh_token(client)
    result = password_grant(client, password=value)
    assert result.status_code == 200, result.text
    assert result.json["refresh_token"] == value
    assert store.list_refresh_tokens().total == 1
    assert_error(password_grant(client, username="bob", password=value), 401, "UNAUTHORIZED")


# -- malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["grant_type", "service", "client_id", "username", "password"])
def test_missing_fields_of_a_password_grant(
    client: falcon.testing.TestClient, missing: str
) -> None:
    fields = {
        "grant_type": "password",
        "username": USER,
        "password": USER_PASSWORD,
        "service": SERVICE,
        "client_id": "docker",
    }
    for sent in ({k: v for k, v in fields.items() if k != missing}, {**fields, missing: ""}):
        entry = assert_error(post(client, **sent), 400, "INVALID_REQUEST")
        assert f"'{missing}'" in entry["message"]


@pytest.mark.parametrize("missing", ["refresh_token", "service", "client_id"])
def test_missing_fields_of_a_refresh_grant(client: falcon.testing.TestClient, missing: str) -> None:
    value = new_refresh_token(client)
    fields = {
        "grant_type": "refresh_token",
        "refresh_token": value,
        "service": SERVICE,
        "client_id": "docker",
    }
    sent = {k: v for k, v in fields.items() if k != missing}
    entry = assert_error(post(client, **sent), 400, "INVALID_REQUEST")
    assert f"'{missing}'" in entry["message"]
    assert value not in entry["message"]


@pytest.mark.parametrize(
    ("body", "headers", "said"),
    [
        ('{"grant_type": "password"}', {"Content-Type": "application/json"}, "x-www-form"),
        ("grant_type=password", {}, "x-www-form"),
        (b"grant_type=password&password=%FF", FORM, "not UTF-8"),
        (b"grant_type=\xff", FORM, "not UTF-8"),
        ("grant_type=password&grant_type=refresh_token", FORM, "more than once"),
        ("&".join(f"f{i}=x" for i in range(300)), FORM, "more than 256 fields"),
        ("x=" + "a" * (64 * 1024), FORM, "larger than"),
        ("grant_type=password&username=a%00b", FORM, "NUL"),
    ],
)
def test_bad_forms(
    client: falcon.testing.TestClient, body: str | bytes, headers: dict[str, str], said: str
) -> None:
    result = client.simulate_post("/v2/token", body=body, headers=headers)
    entry = assert_error(result, 400, "INVALID_REQUEST")
    assert said in entry["message"]


@pytest.mark.parametrize(
    "grant_type", ["client_credentials", "authorization_code", "PASSWORD", "urn:x"]
)
def test_unsupported_grant_types(client: falcon.testing.TestClient, grant_type: str) -> None:
    result = post(client, grant_type=grant_type, service=SERVICE, client_id="docker")
    entry = assert_error(result, 400, "UNSUPPORTED")
    assert "'password' or 'refresh_token'" in entry["message"]


def test_unknown_service_and_bad_client_id(client: falcon.testing.TestClient) -> None:
    assert_error(password_grant(client, service="unknown.test"), 400, "SERVICE_UNKNOWN")
    assert_error(password_grant(client, client_id="x" * 300), 400, "INVALID_REQUEST")


# -- refusals -------------------------------------------------------------------------------


def test_bad_password(client: falcon.testing.TestClient) -> None:
    result = password_grant(client, password="very-wrong-password")
    assert_refused(result, "invalid username or password", "very-wrong-password")
    assert_refused(password_grant(client, username="nobody"), "invalid username")


def test_unknown_refresh_token(client: falcon.testing.TestClient) -> None:
    for value in ("dkr_" + "z" * 43, "not-even-shaped-like-one"):
        assert_refused(refresh_grant(client, value), "unknown or revoked", value)


def test_refresh_token_for_another_service(client: falcon.testing.TestClient) -> None:
    value = new_refresh_token(client)
    assert_refused(refresh_grant(client, value, service=OTHER), "issued for service", value)
    assert refresh_grant(client, value).status_code == 200


def test_expired_refresh_token(client: falcon.testing.TestClient, clock: Clock) -> None:
    value = new_refresh_token(client)
    clock.now += timedelta(days=29)
    assert refresh_grant(client, value).status_code == 200
    clock.now += timedelta(days=1)
    assert_refused(refresh_grant(client, value), "expired", value)
    assert_refused(refresh_grant(client, value), "unknown or revoked", value)


def test_revoked_through_the_admin_api(
    client: falcon.testing.TestClient, store: MemoryBackend
) -> None:
    first, second = new_refresh_token(client), new_refresh_token(client)
    listing = client.simulate_get(f"/api/v1/users/{USER}/refresh-tokens", headers=ADMIN_AUTH)
    record = store.find_refresh_token(hash_refresh_token(second))
    assert record is not None
    assert record.id in {item["id"] for item in listing.json["items"]}
    gone = client.simulate_delete(f"/api/v1/refresh-tokens/{record.id}", headers=ADMIN_AUTH)
    assert gone.status_code == 204
    assert_refused(refresh_grant(client, second), "unknown or revoked", second)
    assert refresh_grant(client, first).status_code == 200
    everything = client.simulate_delete(f"/api/v1/users/{USER}/refresh-tokens", headers=ADMIN_AUTH)
    assert everything.json == {"username": USER, "revoked": 1}
    assert_refused(refresh_grant(client, first), "unknown or revoked", first)


def test_password_change_revokes(client: falcon.testing.TestClient) -> None:
    value = new_refresh_token(client)
    changed = client.simulate_put(
        f"/api/v1/users/{USER}/password", json={"password": "new-pw-123456"}, headers=ADMIN_AUTH
    )
    assert changed.status_code == 204
    assert_refused(refresh_grant(client, value), "unknown or revoked", value)
    assert password_grant(client, password="new-pw-123456").status_code == 200


def test_disabled_user(client: falcon.testing.TestClient, store: MemoryBackend) -> None:
    value = new_refresh_token(client)
    disabled = client.simulate_patch(
        f"/api/v1/users/{USER}", json={"enabled": False}, headers=ADMIN_AUTH
    )
    assert disabled.status_code == 200
    assert_refused(refresh_grant(client, value), "unknown or revoked", value)
    client.simulate_patch(f"/api/v1/users/{USER}", json={"enabled": True}, headers=ADMIN_AUTH)
    assert_refused(refresh_grant(client, value), "unknown or revoked", value)
    # Disabled behind the Admin API's back (straight in the store): refused all the same.
    other = new_refresh_token(client)
    store.set_user_enabled(USER, False)
    assert_refused(refresh_grant(client, other), "disabled or no longer exists", other)


def test_deleted_user(client: falcon.testing.TestClient) -> None:
    value = new_refresh_token(client)
    deleted = client.simulate_delete(f"/api/v1/users/{USER}", headers=ADMIN_AUTH)
    assert deleted.status_code == 204
    assert_refused(refresh_grant(client, value), "unknown or revoked", value)


def test_secrets_never_logged(
    client: falcon.testing.TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    value = new_refresh_token(client)
    refresh_grant(client, value)
    refresh_grant(client, value, service=OTHER)
    password_grant(client, password="wrong-password-xyz")
    assert value not in caplog.text
    assert USER_PASSWORD not in caplog.text
    assert "wrong-password-xyz" not in caplog.text


def test_post_answers_are_the_json_falcon_wrote(client: falcon.testing.TestClient) -> None:
    """The hand-written answer is byte for byte json.dumps(body, ensure_ascii=False)."""
    token = new_refresh_token(client)
    scope = f"repository:{USER}/app:pull repository:other/x:pull"
    for result in (
        password_grant(client, scope=scope),
        refresh_grant(client, token, scope=scope, access_type="offline"),
    ):
        assert result.status_code == 200, result.text
        assert set(result.json) >= {"access_token", "scope", "refresh_token"}
        assert result.content == json.dumps(result.json, ensure_ascii=False).encode()
