"""Fixtures for the HTTP layer: the real app over the memory backend, and HTTP helpers.

Password hashes are computed once per session and stored directly, so each test pays only
for the verifications its requests make.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import falcon
import falcon.testing
import pytest

from dockit_server.app import create_app
from dockit_server.components import Components
from libdockit.assembly import Dockit, Options, assemble
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.service import TokenService

ADMIN = "root"
ADMIN_PASSWORD = "root-password-1"
USER = "alice"
USER_PASSWORD = "alice-password-1"
API = "/api/v1"

WsgiApp: TypeAlias = falcon.App[falcon.Request, falcon.Response]


@dataclass(frozen=True)
class Hashes:
    admin: str
    user: str


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    return PasswordHasher()


@pytest.fixture(scope="session")
def hashes(hasher: PasswordHasher) -> Hashes:
    return Hashes(hasher.hash(Secret(ADMIN_PASSWORD)), hasher.hash(Secret(USER_PASSWORD)))


@pytest.fixture
def backend(hashes: Hashes) -> MemoryBackend:
    """A store with one admin (``root``) and one ordinary user (``alice``)."""
    store = MemoryBackend()
    store.create_user(ADMIN, hashes.admin, is_admin=True)
    store.create_user(USER, hashes.user)
    return store


#: The tests' Dockit: no failed-login limits and no remembered passwords (the tests about
#: them turn them on).
TEST_OPTIONS = Options(issuer="dockit-test", throttle=None, password_cache_seconds=0)


def assemble_for_tests(store: MemoryBackend, hasher: PasswordHasher, **options: Any) -> Dockit:
    return assemble(store, dataclasses.replace(TEST_OPTIONS, **options), hasher=hasher)


@pytest.fixture
def components(backend: MemoryBackend, hasher: PasswordHasher) -> Components:
    return Components.of(assemble_for_tests(backend, hasher))


@pytest.fixture
def tokens(components: Components) -> TokenService:
    return components.tokens


@pytest.fixture
def app(components: Components) -> WsgiApp:
    return create_app(components)


@pytest.fixture
def client(app: WsgiApp) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(app)


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


ADMIN_AUTH = basic(ADMIN, ADMIN_PASSWORD)
USER_AUTH = basic(USER, USER_PASSWORD)


class Api:
    """Admin API calls as ``root`` (or other ``headers``), with paths relative to /api/v1."""

    def __init__(self, client: falcon.testing.TestClient) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> falcon.testing.Result:
        return self.client.simulate_request(
            method,
            API + path,
            json=json,
            body=body,
            headers=dict(ADMIN_AUTH if headers is None else headers),
            params=dict(params) if params is not None else None,
        )

    def get(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.call("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def api(client: falcon.testing.TestClient) -> Api:
    return Api(client)


def error_of(result: falcon.testing.Result) -> dict[str, Any]:
    """The single entry of a distribution-style error body."""
    body = result.json
    assert isinstance(body, dict), body
    errors = body["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 1, errors
    entry = errors[0]
    assert isinstance(entry, dict)
    return entry


def assert_error(
    result: falcon.testing.Result, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    assert result.status_code == status, (result.status, result.text)
    entry = error_of(result)
    assert entry["code"] == code, entry
    if field is not None:
        assert entry["detail"]["field"] == field, entry
    return entry
