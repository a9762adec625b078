"""/readyz warns (200, ``degraded``) about signing certificates close to expiry; a token never
outlives the certificate that signed it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import falcon.testing
import pytest

from dockit_server.app import create_app
from dockit_server.bootstrap import build_components, prepare
from dockit_server.components import Components
from dockit_server.config import Settings
from dockit_server.resources.health import with_certificate_expiry
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.material import SigningKey, generate_key, to_stored
from libdockit.model import KeyState
from libdockit.passwords import PasswordHasher

from .conftest import USER_AUTH, assemble_for_tests


def add(backend: MemoryBackend, state: KeyState, validity: timedelta, offset: int) -> SigningKey:
    now = datetime.now(UTC)
    key = generate_key(now=now, validity=validity)
    backend.add_key(to_stored(key, state, now + timedelta(milliseconds=offset)))
    return key


def client_for(
    backend: MemoryBackend, *, warning_days: int = 30, lifetime: int = 300
) -> falcon.testing.TestClient:
    dockit = assemble_for_tests(backend, PasswordHasher(), token_lifetime=lifetime)
    health = with_certificate_expiry(backend, dockit.keys, warning_days)
    return falcon.testing.TestClient(create_app(Components.of(dockit, health=health)))


def test_far_expiry_is_ok(backend: MemoryBackend) -> None:
    add(backend, "active", timedelta(days=365), 0)
    ready = client_for(backend).simulate_get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {
        "status": "ok",
        "checks": {"store": "ok", "certificates": "ok", "signing_key": "ok"},
    }


@pytest.mark.parametrize("state", ["active", "pending"])
def test_close_expiry_is_a_warning(backend: MemoryBackend, state: KeyState) -> None:
    if state == "pending":
        add(backend, "active", timedelta(days=365), 0)
    soon = add(backend, state, timedelta(days=10), 1)
    ready = client_for(backend).simulate_get("/readyz")
    assert ready.status_code == 200
    assert ready.json["status"] == "degraded"
    message = ready.json["checks"]["certificates"]
    assert f"the certificate of {state} key {soon.kid} expires at" in message
    assert "(10.0 days left)" in message
    assert "dockit keys rotate" in message
    assert ready.json["checks"]["signing_key"] == "ok"


def test_retired_keys_do_not_count(backend: MemoryBackend) -> None:
    add(backend, "retired", timedelta(days=2), 0)
    add(backend, "active", timedelta(days=365), 1)
    ready = client_for(backend).simulate_get("/readyz")
    assert ready.json["status"] == "ok"


def test_warning_days_zero_turns_the_check_off(
    backend: MemoryBackend,
) -> None:
    add(backend, "active", timedelta(days=1), 0)
    ready = client_for(backend, warning_days=0).simulate_get("/readyz")
    assert ready.json == {"status": "ok", "checks": {"store": "ok", "signing_key": "ok"}}


def test_an_expired_active_key_is_unready(backend: MemoryBackend) -> None:
    now = datetime.now(UTC)
    key = generate_key(now=now - timedelta(days=2), validity=timedelta(days=1))
    backend.add_key(to_stored(key, "active", now))
    ready = client_for(backend).simulate_get("/readyz")
    assert ready.status_code == 503
    assert "expired" in ready.json["checks"]["signing_key"]
    assert ready.json["checks"]["certificates"] == "ok"  # said once, by signing_key


def test_the_server_wires_the_setting(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path}/dockit.db",
            "DOCKIT_KEY_VALIDITY_DAYS": "20",
            "DOCKIT_KEY_EXPIRY_WARNING_DAYS": "21",
        }
    )
    prepare(settings)
    components: Components = build_components(settings)
    ready = falcon.testing.TestClient(create_app(components)).simulate_get("/readyz")
    assert ready.status_code == 200
    assert ready.json["status"] == "degraded"
    assert "days left" in ready.json["checks"]["certificates"]


def test_a_token_never_outlives_its_certificate(
    backend: MemoryBackend,
) -> None:
    now = datetime.now(UTC)
    key = generate_key(now=now, validity=timedelta(seconds=120))
    backend.add_key(to_stored(key, "active", now))
    answer = client_for(backend, lifetime=3600).simulate_get(
        "/v2/token", query_string="service=s", headers=USER_AUTH
    )
    assert answer.status_code == 200, answer.text
    assert answer.json["expires_in"] <= 120
    payload = answer.json["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] == int(key.not_after.timestamp())
