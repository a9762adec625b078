"""Identical token requests within one second get the same token; everything else about
the request (the login, the decision) is still checked on each one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import falcon.testing
import jwt
import pytest

from dockit_server.app import create_app
from dockit_server.bootstrap import build_components, prepare
from dockit_server.components import Components
from dockit_server.config import Settings
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.ring import ensure_active_key
from libdockit.model import Grant
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.token_request import TokenRequest
from tests.server.conftest import Hashes, assemble_for_tests, basic

SERVICE = "registry.test"
SCOPE = "repository:alice/app:pull,push"
ALICE = basic("alice", "alice-password-1")


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 12, 0, 0, 250_000, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(hashes: Hashes) -> MemoryBackend:
    store = MemoryBackend()
    store.create_user("alice", hashes.user)
    store.add_grant(Grant("user:alice", "repository", "alice/*", ("pull", "push")))
    ensure_active_key(store, now=datetime.now(UTC))
    return store


def client_for(
    store: MemoryBackend, hasher: PasswordHasher, clock: Clock, **options: object
) -> falcon.testing.TestClient:
    dockit = assemble_for_tests(store, hasher, services=[SERVICE], clock=clock, **options)
    return falcon.testing.TestClient(create_app(Components.of(dockit)))


def token(client: falcon.testing.TestClient) -> falcon.testing.Result:
    return client.simulate_get(
        "/v2/token", query_string=f"service={SERVICE}&scope={SCOPE}", headers=ALICE
    )


def claims(result: falcon.testing.Result) -> dict[str, object]:
    assert result.status_code == 200, result.text
    decoded: dict[str, object] = jwt.decode(
        result.json["token"], options={"verify_signature": False}
    )
    return decoded


def test_the_same_request_in_one_second_gets_the_same_token_and_is_still_checked(
    store: MemoryBackend, hasher: PasswordHasher
) -> None:
    clock = Clock()
    client = client_for(store, hasher, clock)
    first = token(client)
    assert token(client).json["token"] == first.json["token"]

    store.set_user_enabled("alice", False)  # the login is checked on every request
    refused = token(client)
    assert refused.status_code == 401
    assert "WWW-Authenticate" in refused.headers
    store.set_user_enabled("alice", True)
    assert token(client).json["token"] == first.json["token"]

    (both,) = store.grants_for_subjects(["user:alice"])
    assert both.id is not None
    store.delete_grant(both.id)  # and the decision is made again
    store.add_grant(Grant("user:alice", "repository", "alice/*", ("pull",)))
    narrowed = claims(token(client))
    assert narrowed["access"] == [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]
    assert narrowed["jti"] != claims(first)["jti"]

    clock.now += timedelta(seconds=1)  # the next second: a new token
    later = claims(token(client))
    assert later["iat"] == claims(first)["iat"] + 1  # type: ignore[operator]
    assert later["jti"] != narrowed["jti"]


def test_with_reuse_off_every_token_is_signed_anew(
    store: MemoryBackend, hasher: PasswordHasher
) -> None:
    client = client_for(store, hasher, Clock(), reuse_tokens_within_second=False)
    first, second = claims(token(client)), claims(token(client))
    assert first["iat"] == second["iat"]
    assert first["jti"] != second["jti"]


@pytest.mark.parametrize(("setting", "reused"), [(None, True), ("false", False), ("true", True)])
def test_the_setting_reaches_the_signer(tmp_path: Path, setting: str | None, reused: bool) -> None:
    env = {
        "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path}/dockit.db",
        "DOCKIT_ADMIN_PASSWORD": "an-admin-password-1",
        "DOCKIT_SERVICES": SERVICE,
    }
    if setting is not None:
        env["DOCKIT_TOKEN_REUSE_WITHIN_SECOND"] = setting
    settings = Settings.load(env)
    prepare(settings)
    tokens = build_components(settings).tokens
    request = TokenRequest(
        service=SERVICE, username="admin", password=Secret("an-admin-password-1")
    )
    for _ in range(5):  # two tokens of the same second (the real clock may tick between)
        first, second = tokens.handle(request).token, tokens.handle(request).token
        if first.issued_at == second.issued_at:
            break
    assert first.issued_at == second.issued_at
    assert (first.token == second.token) is reused
