"""Failed-login limits over HTTP: 429 with Retry-After on /v2/token (GET and POST) and the
Admin API, reset on success, per client across users, client addresses behind proxies, and
the audit log."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import falcon.testing
import pytest

from dockit_server.app import create_app
from dockit_server.client_address import parse_networks
from dockit_server.components import Components
from dockit_server.config import Settings
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import ConfigError
from libdockit.keys.ring import ensure_active_key
from libdockit.passwords import PasswordHasher
from libdockit.service import TokenService
from libdockit.throttle import LoginThrottle, ThrottlePolicy
from libdockit.tokens import TokenSigner
from tests.server.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    API,
    USER,
    USER_PASSWORD,
    assert_error,
    basic,
)

SERVICE = "registry.test"
PROXY = "10.0.0.2"
T0 = datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(
    components: Components, backend: MemoryBackend, hasher: PasswordHasher, clock: Clock
) -> falcon.testing.TestClient:
    """The usual app with a throttle (3 failures, 15 min window) and one trusted proxy."""
    policy = ThrottlePolicy(max_failures=3, max_backoff=timedelta(seconds=60))
    audit = components.audit
    assert audit is not None
    throttle = LoginThrottle(backend, policy, clock=clock, on_lockout=audit.lockout)
    ensure_active_key(backend, now=datetime.now(UTC))
    throttled = TokenService(
        authenticator=LocalAuthenticator(backend, hasher),
        grants=backend,
        keys=components.tokens.keys,
        signer=TokenSigner("dockit-test"),
        groups=backend,
        refresh_tokens=components.tokens.refresh_tokens,
        throttle=throttle,
        audit=audit,
    )
    app = create_app(
        dataclasses.replace(
            components, tokens=throttled, trusted_proxies=parse_networks([PROXY + "/32"])
        )
    )
    return falcon.testing.TestClient(app)


def get_token(
    client: falcon.testing.TestClient,
    user: str,
    password: str,
    *,
    peer: str = "192.0.2.1",
    forwarded: str | None = None,
) -> falcon.testing.Result:
    headers = basic(user, password)
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    return client.simulate_get(
        "/v2/token", params={"service": SERVICE}, headers=headers, remote_addr=peer
    )


def post_token(
    client: falcon.testing.TestClient, user: str, password: str, *, peer: str = "192.0.2.1"
) -> falcon.testing.Result:
    form = {
        "grant_type": "password",
        "service": SERVICE,
        "client_id": "test",
        "username": user,
        "password": password,
    }
    return client.simulate_post(
        "/v2/token",
        body="&".join(f"{k}={v}" for k, v in form.items()),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        remote_addr=peer,
    )


def assert_throttled(result: falcon.testing.Result, wait: int) -> None:
    entry = assert_error(result, 429, "TOOMANYREQUESTS")
    assert result.headers["Retry-After"] == str(wait)
    assert "password" not in entry["message"]
    assert "WWW-Authenticate" not in result.headers


def test_get_token_is_limited_and_right_password_is_refused_too(
    client: falcon.testing.TestClient, clock: Clock
) -> None:
    for n in range(3):
        assert get_token(client, USER, f"wrong-1-{n}").status_code == 401
    assert_throttled(get_token(client, USER, USER_PASSWORD), 1)
    assert_throttled(get_token(client, USER, "wrong-2"), 1)  # same answer either way
    clock.now += timedelta(seconds=1)
    assert get_token(client, USER, "wrong-3").status_code == 401  # fourth failure: 2 s
    assert_throttled(get_token(client, USER, USER_PASSWORD), 2)
    clock.now += timedelta(seconds=2)
    assert get_token(client, USER, USER_PASSWORD).status_code == 200
    # The success reset alice's counter, from another address too.
    for n in range(2):
        assert get_token(client, USER, f"wrong-4-{n}", peer="192.0.2.2").status_code == 401
    assert get_token(client, USER, USER_PASSWORD, peer="192.0.2.3").status_code == 200


def test_post_token_is_limited(client: falcon.testing.TestClient) -> None:
    for n in range(3):
        assert post_token(client, USER, f"wrong-5-{n}").status_code == 401
    assert_throttled(post_token(client, USER, USER_PASSWORD), 1)
    assert_throttled(get_token(client, USER, USER_PASSWORD, peer="192.0.2.9"), 1)  # user key


def test_per_client_limit_spans_users(client: falcon.testing.TestClient) -> None:
    for user in ("alice", "bob", "nobody"):
        assert get_token(client, user, "wrong-6").status_code == 401
    assert_throttled(get_token(client, ADMIN, ADMIN_PASSWORD), 1)
    assert get_token(client, ADMIN, ADMIN_PASSWORD, peer="192.0.2.200").status_code == 200


def test_admin_api_basic_auth_is_limited(client: falcon.testing.TestClient) -> None:
    for n in range(3):
        result = client.simulate_get(API + "/users", headers=basic(ADMIN, f"wrong-7-{n}"))
        assert result.status_code == 401
    result = client.simulate_get(API + "/users", headers=basic(ADMIN, ADMIN_PASSWORD))
    assert_throttled(result, 1)
    # The token endpoint shares the counters: root is blocked there too.
    assert_throttled(get_token(client, ADMIN, ADMIN_PASSWORD, peer="192.0.2.77"), 1)


def test_forwarded_for_counts_only_from_a_trusted_proxy(
    client: falcon.testing.TestClient,
) -> None:
    # An untrusted peer cannot pick its address with X-Forwarded-For: all three count
    # against 203.0.113.5 itself, whatever they claim.
    for n in range(3):
        result = get_token(client, f"u{n}", "wrong-8", peer="203.0.113.5", forwarded=f"6.6.6.{n}")
        assert result.status_code == 401
    assert_throttled(get_token(client, USER, USER_PASSWORD, peer="203.0.113.5"), 1)
    # Behind the trusted proxy each forwarded client has its own counter ...
    for n in range(3):
        result = get_token(client, f"v{n}", "wrong-9", peer=PROXY, forwarded=f"198.51.100.{n}")
        assert result.status_code == 401
    ok = get_token(client, USER, USER_PASSWORD, peer=PROXY, forwarded="198.51.100.50")
    assert ok.status_code == 200
    # ... and a client prepending addresses does not escape its own.
    for n in range(3):
        result = get_token(
            client, "w", f"wrong-10-{n}", peer=PROXY, forwarded="1.1.1.1, 198.51.100.60"
        )
        assert result.status_code == 401
    spoofed = get_token(client, USER, USER_PASSWORD, peer=PROXY, forwarded="9.9.9.9, 198.51.100.60")
    assert_throttled(spoofed, 1)


def test_throttling_is_audited(client: falcon.testing.TestClient, backend: MemoryBackend) -> None:
    for n in range(3):
        get_token(client, USER, f"wrong-11-{n}", peer=PROXY, forwarded="198.51.100.7")
    assert_throttled(
        get_token(client, USER, USER_PASSWORD, peer=PROXY, forwarded="198.51.100.7"), 1
    )
    blocked = backend.query_events(action="login.blocked").items
    assert sorted(e.target or "" for e in blocked) == ["client:198.51.100.7", "user:alice"]
    assert {e.client_address for e in blocked} == {"198.51.100.7"}
    [refusal] = backend.query_events(action="token.refuse", limit=1).items
    assert refusal.actor == "user:alice"
    assert refusal.client_address == "198.51.100.7"
    assert refusal.detail is not None
    assert refusal.detail["reason"] == "TOOMANYREQUESTS"
    assert refusal.detail["outcome"] == "refused (429)"
    for event in backend.query_events(limit=100).items:
        assert USER_PASSWORD not in repr(event)


def test_settings() -> None:
    settings = Settings.load(
        environ={
            "DOCKIT_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8",
            "DOCKIT_LOGIN_MAX_FAILURES": "7",
            "DOCKIT_LOGIN_WINDOW_SECONDS": "60",
            "DOCKIT_LOGIN_FIRST_BACKOFF_SECONDS": "2",
            "DOCKIT_LOGIN_MAX_BACKOFF_SECONDS": "30",
        }
    )
    assert settings.server_trusted_proxies == ("10.0.0.0/8", "fd00::/8")
    assert (settings.logins_max_failures, settings.logins_window_seconds) == (7, 60)
    assert (settings.logins_first_backoff_seconds, settings.logins_max_backoff_seconds) == (2, 30)
    defaults = Settings()
    assert (defaults.logins_max_failures, defaults.logins_window_seconds) == (5, 900)
    assert defaults.server_trusted_proxies == ()
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={"DOCKIT_TRUSTED_PROXIES": "10.0.0.0/8,proxy.example.com"})
    assert caught.value.key == "server.trusted_proxies"
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={"DOCKIT_LOGIN_MAX_FAILURES": "-1"})
    assert caught.value.key == "logins.max_failures"
