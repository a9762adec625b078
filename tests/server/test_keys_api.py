"""Key rotation through /api/v1/keys, the bundle and the JWKS, on the real app."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import falcon.testing
import pytest

from dockit_server.app import create_app
from dockit_server.components import Components
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.bundle import parse_bundle
from libdockit.keys.ring import ensure_active_key
from libdockit.passwords import PasswordHasher
from tests.support.verifier import verify_token

from .conftest import ADMIN_AUTH, API, USER_AUTH, assemble_for_tests


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(
    backend: MemoryBackend, hasher: PasswordHasher, clock: Clock
) -> falcon.testing.TestClient:
    ensure_active_key(backend, now=clock.now)
    dockit = assemble_for_tests(backend, hasher, clock=clock, retired_grace=timedelta(seconds=360))
    return falcon.testing.TestClient(create_app(Components.of(dockit)))


def keys(client: falcon.testing.TestClient) -> list[dict[str, Any]]:
    result = client.simulate_get(f"{API}/keys", headers=ADMIN_AUTH)
    assert result.status_code == 200
    items: list[dict[str, Any]] = result.json["items"]
    return items


def bundle_kids(client: falcon.testing.TestClient) -> list[str]:
    return [jwk["kid"] for jwk in client.simulate_get("/v2/certs/jwks").json["keys"]]


def token_kid(client: falcon.testing.TestClient) -> str:
    result = client.simulate_get("/v2/token", query_string="service=s", headers=USER_AUTH)
    assert result.status_code == 200
    bundle = client.simulate_get("/v2/certs/pem").content
    verify_token(result.json["token"], bundle_pem=bundle, issuer="dockit-test", service="s")
    header = json.loads(base64.urlsafe_b64decode(result.json["token"].split(".")[0] + "=="))
    kid: str = header["kid"]
    return kid


def test_staged_rotation(client: falcon.testing.TestClient, clock: Clock) -> None:
    (old,) = keys(client)
    assert old["state"] == "active"
    assert token_kid(client) == old["kid"]

    clock.now += timedelta(seconds=1)  # keys are listed oldest first
    created = client.simulate_post(f"{API}/keys", headers=ADMIN_AUTH, json={"algorithm": "RS256"})
    assert created.status_code == 201
    new = created.json
    assert new["state"] == "pending"
    assert new["algorithm"] == "RS256"
    assert created.headers["Location"] == f"{API}/keys/{new['kid']}"
    # Pending: published (bundle and JWKS), not signing.
    assert bundle_kids(client) == [old["kid"], new["kid"]]
    assert len(parse_bundle(client.simulate_get("/v2/certs/pem").content)) == 2
    assert token_kid(client) == old["kid"]

    activated = client.simulate_post(f"{API}/keys/{new['kid']}/activate", headers=ADMIN_AUTH)
    assert activated.status_code == 200
    assert activated.json["state"] == "active"
    assert token_kid(client) == new["kid"]
    states = {k["kid"]: k["state"] for k in keys(client)}
    assert states == {old["kid"]: "retired", new["kid"]: "active"}
    # The retired key stays published while its tokens may still be presented...
    assert bundle_kids(client) == [old["kid"], new["kid"]]
    clock.now += timedelta(seconds=361)
    client.simulate_post(f"{API}/keys", headers=ADMIN_AUTH, json={})  # any change refreshes
    # ... then it leaves the bundle.
    assert old["kid"] not in bundle_kids(client)
    assert old["kid"] in [k["kid"] for k in keys(client)]  # kept in the store


def test_the_active_key_cannot_be_retired(client: falcon.testing.TestClient) -> None:
    (active,) = keys(client)
    result = client.simulate_post(f"{API}/keys/{active['kid']}/retire", headers=ADMIN_AUTH)
    assert result.status_code == 409
    assert "activate another key first" in result.json["errors"][0]["message"]


def test_retire_a_pending_key(client: falcon.testing.TestClient) -> None:
    pending = client.simulate_post(f"{API}/keys", headers=ADMIN_AUTH, json={}).json
    result = client.simulate_post(f"{API}/keys/{pending['kid']}/retire", headers=ADMIN_AUTH)
    assert result.status_code == 200
    assert result.json["state"] == "retired"
    again = client.simulate_post(f"{API}/keys/{pending['kid']}/retire", headers=ADMIN_AUTH)
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"algorithm": "HS256"}, "algorithm"),
        ({"validity_days": 0}, "validity_days"),
        ({"validity_days": "365"}, "validity_days"),
        ({"bits": 4096}, "bits"),
    ],
)
def test_bad_key_requests(
    client: falcon.testing.TestClient, body: dict[str, Any], field: str
) -> None:
    result = client.simulate_post(f"{API}/keys", headers=ADMIN_AUTH, json=body)
    assert result.status_code == 400
    assert field in result.text
    assert len(keys(client)) == 1


def test_unknown_key_is_404(client: falcon.testing.TestClient) -> None:
    for method, path in [
        ("GET", "/keys/NOPE"),
        ("POST", "/keys/NOPE/activate"),
        ("POST", "/keys/NOPE/retire"),
    ]:
        result = client.simulate_request(method, API + path, headers=ADMIN_AUTH)
        assert result.status_code == 404, path


def test_keys_need_an_admin(client: falcon.testing.TestClient) -> None:
    assert client.simulate_get(f"{API}/keys", headers=USER_AUTH).status_code == 403
    assert client.simulate_post(f"{API}/keys", headers=USER_AUTH, json={}).status_code == 403


def test_jwks_matches_token_headers(client: falcon.testing.TestClient) -> None:
    jwks = client.simulate_get("/v2/certs/jwks").json
    (jwk,) = jwks["keys"]
    assert jwk["kid"] == token_kid(client)
    assert jwk["kty"] == "EC"
    assert jwk["use"] == "sig"
    assert "d" not in jwk  # never private material
    assert jwk["x5c"]
