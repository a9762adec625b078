"""The bundle and the JWKS come from the store, not from a worker's cached key ring: the init
step run right after a key is created must see it, whichever worker answers."""

from __future__ import annotations

from datetime import UTC, datetime

import falcon.testing

from dockit_server.app import create_app
from dockit_server.components import Components
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.bundle import parse_bundle
from libdockit.keys.ring import ensure_active_key
from libdockit.passwords import PasswordHasher

from .conftest import ADMIN_AUTH, API, assemble_for_tests


def worker(components: Components, backend: MemoryBackend) -> falcon.testing.TestClient:
    """Another process over the same store, with its own key ring (re-read only hourly)."""
    other = assemble_for_tests(backend, PasswordHasher(), key_refresh_seconds=3600.0)
    return falcon.testing.TestClient(create_app(Components.of(other)))


def test_a_new_key_is_in_every_workers_bundle_at_once(
    components: Components, backend: MemoryBackend
) -> None:
    ensure_active_key(backend, now=datetime.now(UTC))
    first, second = worker(components, backend), worker(components, backend)
    assert len(parse_bundle(second.simulate_get("/v2/certs/pem").content)) == 1
    assert len(second.simulate_get("/v2/certs/jwks").json["keys"]) == 1
    created = first.simulate_post(f"{API}/keys", headers=ADMIN_AUTH, json={})
    assert created.status_code == 201
    assert len(parse_bundle(second.simulate_get("/v2/certs/pem").content)) == 2
    kids = [jwk["kid"] for jwk in second.simulate_get("/v2/certs/jwks").json["keys"]]
    assert created.json["kid"] in kids
