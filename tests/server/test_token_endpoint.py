"""GET/POST /v2/token, /v2/certs/pem and the health endpoints through the real Falcon app."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import falcon
import falcon.testing
import jwt
import pytest

from dockit_server.app import create_app
from dockit_server.components import Components
from dockit_server.resources.token import _IssuedAtText, answer_json
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.clock import rfc3339
from libdockit.keys.ring import ensure_active_key
from libdockit.model import Grant
from libdockit.passwords import PasswordHasher
from tests.server.conftest import Hashes, assemble_for_tests, basic
from tests.support.verifier import verify_token

ISSUER = "dockit-test"
SERVICE = "registry.test"


@pytest.fixture
def store(hashes: Hashes) -> MemoryBackend:
    store = MemoryBackend()
    store.create_user("alice", hashes.user)
    store.create_user("bob", hashes.user, enabled=False)
    store.create_group("devs")
    store.add_member("devs", "alice")
    store.add_grant(Grant("user:alice", "repository", "alice/*", ("push",)))
    store.add_grant(Grant("group:devs", "repository", "team/**", ("pull",)))
    store.add_grant(Grant("anonymous", "repository", "public/*", ("pull",)))
    ensure_active_key(store, now=datetime.now(UTC))
    return store


@pytest.fixture
def client(store: MemoryBackend, hasher: PasswordHasher) -> falcon.testing.TestClient:
    dockit = assemble_for_tests(store, hasher, issuer=ISSUER, services=[SERVICE])
    return falcon.testing.TestClient(create_app(Components.of(dockit, realm="test-realm")))


ALICE = basic("alice", "alice-password-1")


def get_token(
    client: falcon.testing.TestClient,
    *scopes: str,
    headers: dict[str, str] | None = None,
    service: str = SERVICE,
    **params: str,
) -> falcon.testing.Result:
    query = [("service", service), *(("scope", s) for s in scopes), *params.items()]
    return client.simulate_get(
        "/v2/token",
        query_string="&".join(f"{k}={v}" for k, v in query),
        headers=headers,
    )


def claims_of(
    client: falcon.testing.TestClient, result: falcon.testing.Result
) -> dict[str, object]:
    assert result.status_code == 200, result.text
    body = result.json
    assert body["token"] == body["access_token"]
    bundle = client.simulate_get("/v2/certs/pem").content
    return verify_token(body["token"], bundle_pem=bundle, issuer=ISSUER, service=SERVICE)


def test_user_gets_granted_intersection(client: falcon.testing.TestClient) -> None:
    result = get_token(
        client,
        "repository:alice/app:pull,push,delete",
        "repository:team/x/y:pull,push repository:other/z:pull",
        headers=ALICE,
        account="alice",
    )
    claims = claims_of(client, result)
    assert claims["sub"] == "alice"
    assert claims["aud"] == SERVICE
    assert claims["access"] == [
        {"type": "repository", "name": "alice/app", "actions": ["pull", "push"]},
        {"type": "repository", "name": "team/x/y", "actions": ["pull"]},
        {"type": "repository", "name": "other/z", "actions": []},
    ]
    body = result.json
    assert body["expires_in"] == 300
    assert datetime.strptime(body["issued_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert result.headers["cache-control"] == "no-store"


def test_login_without_scope_gets_empty_access(client: falcon.testing.TestClient) -> None:
    claims = claims_of(
        client, get_token(client, headers=ALICE, account="alice", client_id="docker")
    )
    assert claims["access"] == []


def test_anonymous(client: falcon.testing.TestClient) -> None:
    claims = claims_of(client, get_token(client, "repository:public/x:pull,push"))
    assert claims["sub"] == ""
    assert claims["access"] == [{"type": "repository", "name": "public/x", "actions": ["pull"]}]
    claims = claims_of(client, get_token(client, "repository:alice/app:pull"))
    assert claims["access"] == [{"type": "repository", "name": "alice/app", "actions": []}]


@pytest.mark.parametrize(
    "headers",
    [
        basic("alice", "wrong"),
        basic("nobody", "alice-password-1"),
        basic("bob", "alice-password-1"),  # disabled
        basic("a*", "x"),
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic " + "QQ=="},  # "A": no colon
    ],
)
def test_bad_credentials_are_401_with_challenge(
    client: falcon.testing.TestClient, headers: dict[str, str]
) -> None:
    result = get_token(client, "repository:alice/app:pull", headers=headers)
    assert result.status_code == 401
    assert result.headers["www-authenticate"] == 'Basic realm="test-realm", charset="UTF-8"'
    (error,) = result.json["errors"]
    assert error["code"] == "UNAUTHORIZED"
    assert "token" not in result.json


@pytest.mark.parametrize(
    ("scope", "service", "code"),
    [
        ("repository:Alice/app:pull", SERVICE, "SCOPE_INVALID"),
        ("repository:alice/app", SERVICE, "SCOPE_INVALID"),
        ("repository:alice/app:pull", "other.registry", "SERVICE_UNKNOWN"),
        ("repository:alice/app:pull", "", "INVALID_REQUEST"),
    ],
)
def test_bad_requests_are_400(
    client: falcon.testing.TestClient, scope: str, service: str, code: str
) -> None:
    result = get_token(client, scope, headers=ALICE, service=service)
    assert result.status_code == 400
    assert result.json["errors"][0]["code"] == code


def test_account_must_match(client: falcon.testing.TestClient) -> None:
    result = get_token(client, "repository:alice/app:pull", headers=ALICE, account="mallory")
    assert result.status_code == 400
    assert "account" in result.json["errors"][0]["message"]
    # The legacy parameter is compared in canonical form.
    assert get_token(client, headers=ALICE, account="Alice").status_code == 200


def test_post_is_served(client: falcon.testing.TestClient) -> None:
    """The OAuth2 form flow (tests/server/test_token_post.py has the details)."""
    result = client.simulate_post(
        "/v2/token",
        body="grant_type=password&username=alice&password=alice-password-1"
        f"&service={SERVICE}&client_id=test&scope=repository%3Aalice%2Fapp%3Apull",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert result.status_code == 200, result.text
    assert result.json["scope"] == "repository:alice/app:pull"
    missing = client.simulate_post("/v2/token", body="grant_type=password")
    assert missing.status_code == 400
    assert missing.json["errors"][0]["code"] == "INVALID_REQUEST"


def test_certs_and_health(client: falcon.testing.TestClient) -> None:
    pem = client.simulate_get("/v2/certs/pem")
    assert pem.status_code == 200
    assert pem.headers["content-type"] == "application/x-pem-file"
    assert pem.text.count("BEGIN CERTIFICATE") == 1
    assert client.simulate_get("/healthz").json == {"status": "ok"}
    ready = client.simulate_get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"store": "ok", "signing_key": "ok"}


def test_readyz_without_key_is_503(hasher: PasswordHasher) -> None:
    store = MemoryBackend()
    app = create_app(Components.of(assemble_for_tests(store, hasher, issuer=ISSUER)))
    client = falcon.testing.TestClient(app)
    ready = client.simulate_get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["store"] == "ok"
    assert ready.json["checks"]["signing_key"] != "ok"
    token = client.simulate_get("/v2/token", query_string="service=x")
    assert token.status_code == 503
    assert token.json["errors"][0]["code"] == "KEY_INVALID"


def test_password_never_echoed(client: falcon.testing.TestClient) -> None:
    secret = "very-secret-pw-123"
    result = get_token(client, headers=basic("alice", secret))
    assert result.status_code == 401
    assert secret not in result.text


@pytest.mark.parametrize("name", ["service", "account", "offline_token", "client_id"])
def test_repeated_single_parameters_are_refused(
    client: falcon.testing.TestClient, name: str
) -> None:
    query = f"service={SERVICE}&{name}=a&{name}=b"
    if name == "service":
        query = f"service=other&service={SERVICE}"
    result = client.simulate_get("/v2/token", query_string=query, headers=ALICE)
    assert result.status_code == 400
    assert f"'{name}'" in result.json["errors"][0]["message"]


def test_answers_are_the_json_falcon_wrote(client: falcon.testing.TestClient) -> None:
    """The hand-written answer is byte for byte json.dumps(body, ensure_ascii=False)."""
    for result in (
        get_token(client, "repository:alice/x:push", headers=ALICE),
        get_token(client, "repository:public/x:pull"),
        get_token(client, headers=ALICE, offline_token="true", client_id="c"),
    ):
        assert result.status_code == 200, result.text
        assert result.content == json.dumps(result.json, ensure_ascii=False).encode()
        assert result.headers["content-type"] == "application/json"
        assert list(result.json)[:4] == ["token", "access_token", "expires_in", "issued_at"]
        assert result.json["issued_at"] == rfc3339(
            datetime.fromtimestamp(_claims(result.json["token"])["iat"], UTC)
        )


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_issued_at_text_follows_the_moment() -> None:
    """The remembered text of the last moment is used only for that same instant."""
    text = _IssuedAtText()
    first = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert text(first) == "2026-01-01T12:00:00Z"
    assert text(first) == "2026-01-01T12:00:00Z"
    assert text(datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)) == "2026-01-01T12:00:01Z"
    assert text(first.astimezone(timezone(timedelta(hours=2)))) == "2026-01-01T12:00:00Z"
    assert text(datetime(2027, 6, 2, 0, 0, 0, tzinfo=UTC)) == "2027-06-02T00:00:00Z"


@pytest.mark.parametrize(
    "body",
    [
        {"access_token": "a.b-c_d", "scope": 'q"uote\\ \u00e9\u2028\n', "expires_in": 60},
        {"token": "x", "refresh_token": "dkr_abc", "issued_at": "2026-01-01T00:00:00Z"},
        {},
    ],
)
def test_answer_json_matches_json_dumps(body: dict[str, object]) -> None:
    assert answer_json(body) == json.dumps(body, ensure_ascii=False).encode()
