"""libdockit.refresh: issuing and redeeming refresh tokens over the memory backend."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import AuthenticationFailed, BackendUnavailable
from libdockit.model import Identity
from libdockit.refresh import (
    DEFAULT_REFRESH_LIFETIME,
    REFRESH_TOKEN_PREFIX,
    IdentityResolver,
    LocalIdentityResolver,
    RefreshTokens,
    hash_refresh_token,
    identity_resolver,
    lifetime_from_days,
    looks_like_refresh_token,
    new_token_value,
)
from libdockit.secret import Secret

T0 = datetime(2030, 1, 1, tzinfo=UTC)
SERVICE = "registry.test"
ALICE = Identity(username="alice", groups=(), is_admin=False, source="local")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def store() -> MemoryBackend:
    backend = MemoryBackend()
    backend.create_user("alice", "hash")
    backend.create_user("bob", "hash", enabled=False)
    backend.create_group("devs")
    return backend


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def refresh(store: MemoryBackend, clock: Clock) -> RefreshTokens:
    return RefreshTokens(store, LocalIdentityResolver(store), clock=clock)


def issue(refresh: RefreshTokens, identity: Identity = ALICE, service: str = SERVICE) -> Secret:
    issued = refresh.issue(identity, service=service, client_id="docker")
    assert issued is not None
    return issued.value


# -- the value ------------------------------------------------------------------------------


def test_values_are_prefixed_random_and_recognisable() -> None:
    values = {new_token_value() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert value.startswith(REFRESH_TOKEN_PREFIX)
        assert len(value) == len(REFRESH_TOKEN_PREFIX) + 43
        assert looks_like_refresh_token(value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "dkr_",
        "password",
        "dkr_" + "a" * 42,
        "dkr_" + "a" * 44,
        "dkr_" + "a" * 42 + "!",
        "DKR_" + "a" * 43,
        " dkr_" + "a" * 43,
        "dkr_" + "a" * 43 + "\n",
    ],
)
def test_other_strings_do_not_look_like_tokens(text: str) -> None:
    assert not looks_like_refresh_token(text)


def test_hash_is_hex_sha256() -> None:
    value = "dkr_" + "x" * 43
    assert hash_refresh_token(value) == hashlib.sha256(value.encode()).hexdigest()


# -- issuing --------------------------------------------------------------------------------


def test_issue_stores_only_the_hash(refresh: RefreshTokens, store: MemoryBackend) -> None:
    issued = refresh.issue(ALICE, service=SERVICE, client_id="docker")
    assert issued is not None
    value = issued.value.reveal()
    assert looks_like_refresh_token(value)
    assert repr(issued.value) == "Secret('***')"
    (record,) = store.list_refresh_tokens(username="alice").items
    assert record == issued.record
    assert record.token_hash == hash_refresh_token(value)
    assert value not in repr(record)
    assert (record.username, record.service, record.client_id) == ("alice", SERVICE, "docker")
    assert record.created_at == T0
    assert record.last_used_at is None
    assert record.expires_at == T0 + DEFAULT_REFRESH_LIFETIME
    assert len(record.id) == 16
    assert int(record.id, 16) >= 0  # hex


def test_lifetime_none_never_expires(store: MemoryBackend, clock: Clock) -> None:
    refresh = RefreshTokens(store, LocalIdentityResolver(store), lifetime=None, clock=clock)
    value = issue(refresh)
    record = refresh.find(value)
    assert record is not None
    assert record.expires_at is None
    clock.advance(days=3650)
    assert refresh.redeem(record, service=SERVICE).username == "alice"


@pytest.mark.parametrize(
    "identity",
    [
        Identity(username="nobody", source="local"),  # no such user
        Identity(username="bob", source="local"),  # disabled
        Identity(username="alice", source="ldap"),  # a directory user named like a local one
        Identity(username="Not Valid", source="local"),
    ],
)
def test_issue_refuses_identities_the_resolver_does_not_vouch_for(
    refresh: RefreshTokens, store: MemoryBackend, identity: Identity
) -> None:
    assert refresh.issue(identity, service=SERVICE, client_id=None) is None
    assert store.list_refresh_tokens().total == 0


def test_issue_when_the_store_lacks_a_local_user(store: MemoryBackend) -> None:
    """A resolver that vouches for a local user the store does not have (deleted meanwhile):
    no token, no error. A directory user needs no local row and gets one."""

    class Vouching:
        def identity_for(self, username: str, *, source: str = "local") -> Identity | None:
            return Identity(username=username, source=source)

    refresh = RefreshTokens(store, Vouching())
    assert refresh.issue(Identity("carol"), service=SERVICE, client_id=None) is None
    issued = refresh.issue(Identity("carol", source="ldap"), service=SERVICE, client_id=None)
    assert issued is not None
    assert (issued.record.username, issued.record.source) == ("carol", "ldap")


def test_bad_settings_and_sources(store: MemoryBackend) -> None:
    resolver = LocalIdentityResolver(store)
    for bad in (timedelta(0), timedelta(seconds=-1)):
        with pytest.raises(ValueError, match="lifetime"):
            RefreshTokens(store, resolver, lifetime=bad)
    weak = RefreshTokens(store, resolver, value_source=lambda: "dkr_short")
    with pytest.raises(ValueError, match="value_source"):
        weak.issue(ALICE, service=SERVICE, client_id=None)


def test_lifetime_from_days() -> None:
    assert lifetime_from_days(0) is None
    assert lifetime_from_days(90) == timedelta(days=90)
    with pytest.raises(ValueError, match="negative"):
        lifetime_from_days(-1)


# -- redeeming ------------------------------------------------------------------------------


def test_find_and_redeem(refresh: RefreshTokens, clock: Clock) -> None:
    value = issue(refresh)
    record = refresh.find(value)
    assert record is not None
    clock.advance(minutes=5)
    identity = refresh.redeem(record, service=SERVICE)
    assert identity == Identity(username="alice", groups=(), is_admin=False, source="local")
    assert refresh.find(Secret("dkr_" + "A" * 43)) is None
    assert refresh.find(Secret("not-a-token")) is None


def test_every_use_sees_the_current_account(
    refresh: RefreshTokens, store: MemoryBackend, clock: Clock
) -> None:
    value = issue(refresh)
    store.add_member("devs", "alice")
    store.set_user_admin("alice", True)
    identity, _ = refresh.redeem_value(value, service=SERVICE)
    assert (identity.groups, identity.is_admin) == (("devs",), True)
    store.set_group_enabled("devs", False)
    store.set_user_admin("alice", False)
    identity, _ = refresh.redeem_value(value, service=SERVICE)
    assert (identity.groups, identity.is_admin) == ((), False)


def test_last_used_is_written_at_most_once_a_minute(
    refresh: RefreshTokens, store: MemoryBackend, clock: Clock
) -> None:
    value = issue(refresh)

    def last_used() -> datetime | None:
        record = refresh.find(value)
        assert record is not None
        return record.last_used_at

    clock.advance(seconds=10)
    refresh.redeem_value(value, service=SERVICE)
    assert last_used() == T0 + timedelta(seconds=10)
    clock.advance(seconds=30)
    refresh.redeem_value(value, service=SERVICE)
    assert last_used() == T0 + timedelta(seconds=10)  # within the interval: no write
    clock.advance(seconds=30)
    refresh.redeem_value(value, service=SERVICE)
    assert last_used() == T0 + timedelta(seconds=70)


def test_every_use_is_recorded_with_a_zero_interval(store: MemoryBackend, clock: Clock) -> None:
    refresh = RefreshTokens(
        store, LocalIdentityResolver(store), clock=clock, touch_interval=timedelta(0)
    )
    value = issue(refresh)
    for step in range(1, 4):
        clock.advance(seconds=1)
        refresh.redeem_value(value, service=SERVICE)
        found = refresh.find(value)
        assert found is not None
        assert found.last_used_at == T0 + timedelta(seconds=step)


def test_service_binding(refresh: RefreshTokens) -> None:
    value = issue(refresh)
    with pytest.raises(AuthenticationFailed, match=r"issued for service 'registry\.test'"):
        refresh.redeem_value(value, service="other.test")
    identity, _ = refresh.redeem_value(value, service=None)  # any service (the Admin API)
    assert identity.username == "alice"


def test_expired_token_is_refused_and_deleted(refresh: RefreshTokens, clock: Clock) -> None:
    value = issue(refresh)
    clock.advance(days=89, hours=23)
    refresh.redeem_value(value, service=SERVICE)
    clock.advance(hours=1)
    with pytest.raises(AuthenticationFailed, match="expired"):
        refresh.redeem_value(value, service=SERVICE)
    assert refresh.find(value) is None
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        refresh.redeem_value(value, service=SERVICE)


def test_disabled_or_deleted_user(refresh: RefreshTokens, store: MemoryBackend) -> None:
    first, second = issue(refresh), issue(refresh)
    store.set_user_enabled("alice", False)
    with pytest.raises(AuthenticationFailed, match="disabled or no longer exists"):
        refresh.redeem_value(first, service=SERVICE)
    assert refresh.find(first) is None  # deleted: enabling alice again does not revive it
    store.set_user_enabled("alice", True)
    assert refresh.redeem_value(second, service=SERVICE)[0].username == "alice"
    store.delete_user("alice")
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        refresh.redeem_value(second, service=SERVICE)


def test_revoked_between_lookup_and_use(refresh: RefreshTokens, store: MemoryBackend) -> None:
    value = issue(refresh)
    record = refresh.find(value)
    assert record is not None
    store.revoke_refresh_token(record.id)
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        refresh.redeem(record, service=SERVICE)


def test_a_revoke_racing_a_recent_use_leaves_the_token_revoked(
    refresh: RefreshTokens, store: MemoryBackend, clock: Clock
) -> None:
    """Within the touch interval nothing is written, so nothing brings a revoked token back."""
    value = issue(refresh)
    refresh.redeem_value(value, service=SERVICE)
    record = refresh.find(value)
    assert record is not None
    store.revoke_refresh_token(record.id)
    refresh.redeem(replace(record), service=SERVICE)  # the lookup was before the revoke
    assert refresh.find(value) is None


def test_backend_unavailable_is_not_a_refusal(store: MemoryBackend) -> None:
    class Down:
        def identity_for(self, username: str, *, source: str = "local") -> Identity | None:
            raise BackendUnavailable("directory down")

    value = issue(RefreshTokens(store, LocalIdentityResolver(store)))
    refresh = RefreshTokens(store, Down())
    with pytest.raises(BackendUnavailable):
        refresh.redeem_value(value, service=SERVICE)
    assert refresh.find(value) is not None  # not deleted: "cannot tell" is not "no"


def test_nothing_logs_a_token_value(
    refresh: RefreshTokens, store: MemoryBackend, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    value = issue(refresh)
    refresh.redeem_value(value, service=SERVICE)
    with pytest.raises(AuthenticationFailed):
        refresh.redeem_value(value, service="other.test")
    clock.advance(days=365)
    with pytest.raises(AuthenticationFailed):
        refresh.redeem_value(value, service=SERVICE)
    assert "refresh token" in caplog.text
    assert value.reveal() not in caplog.text
    assert hash_refresh_token(value.reveal()) not in caplog.text


# -- resolvers ------------------------------------------------------------------------------


def test_local_resolver(store: MemoryBackend) -> None:
    resolver = LocalIdentityResolver(store)
    store.add_member("devs", "alice")
    assert resolver.identity_for("ALICE") == Identity("alice", ("devs",), False, "local")
    assert resolver.identity_for("bob") is None
    assert resolver.identity_for("nobody") is None
    assert resolver.identity_for("a*") is None
    assert resolver.identity_for("alice", source="ldap") is None  # not a source it knows


def test_a_token_is_redeemed_only_as_an_identity_of_its_source(store: MemoryBackend) -> None:
    """A directory user's token, and later a local user of the same name: the token stays
    the directory user's (and is refused once the directory no longer knows them)."""

    class Directory:
        def __init__(self) -> None:
            self.known = {"dora"}

        def identity_for(self, username: str, *, source: str = "local") -> Identity | None:
            if source == "ldap":
                return (
                    Identity(username, ("ldap-devs",), source="ldap")
                    if username in self.known
                    else None
                )
            return LocalIdentityResolver(store).identity_for(username, source=source)

    directory = Directory()
    refresh = RefreshTokens(store, directory)
    issued = refresh.issue(Identity("dora", source="ldap"), service=SERVICE, client_id="docker")
    assert issued is not None
    assert issued.record.source == "ldap"
    identity, _ = refresh.redeem_value(issued.value, service=SERVICE)
    assert (identity.source, identity.groups) == ("ldap", ("ldap-devs",))
    store.create_user("dora", "h")  # a local namesake appears: the token is not theirs
    identity, _ = refresh.redeem_value(issued.value, service=SERVICE)
    assert identity.source == "ldap"
    directory.known.clear()
    with pytest.raises(AuthenticationFailed, match="disabled or no longer exists"):
        refresh.redeem_value(issued.value, service=SERVICE)
    assert refresh.find(issued.value) is None


def test_identity_resolver_prefers_an_authenticator_that_can_resolve(
    store: MemoryBackend,
) -> None:
    class Chain:
        def authenticate(self, username: str, password: Secret) -> Identity | None:
            return None

        def identity_for(self, username: str) -> Identity | None:
            return Identity(username=username, source="ldap")

    chain = Chain()
    assert identity_resolver(chain, store) is chain  # type: ignore[comparison-overlap]
    assert isinstance(chain, IdentityResolver)
    fallback = identity_resolver(object(), store)
    assert isinstance(fallback, LocalIdentityResolver)
