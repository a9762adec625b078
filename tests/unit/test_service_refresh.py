"""TokenService (its logins and token requests) and AdminService with refresh tokens, over the
memory backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libdockit.admin import AdminService
from libdockit.audit import Actor
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from libdockit.keys.ring import KeyRing, ensure_active_key
from libdockit.login import TOKEN_USERNAME
from libdockit.model import Grant, Identity
from libdockit.passwords import PasswordHasher
from libdockit.refresh import LocalIdentityResolver, RefreshTokens
from libdockit.secret import Secret
from libdockit.service import TokenService
from libdockit.token_request import POST, TokenRequest, check_client_id
from libdockit.tokens import TokenSigner

TEST_ACTOR = Actor.system("tests")

SERVICE = "registry.test"
OTHER = "other.test"
ALICE_PW = "alice-password-1"
ROOT_PW = "root-password-1"
#: A password that has the shape of a refresh token, and is just a password.
LOOKALIKE_PW = "dkr_" + "p" * 43


class CountingAuthenticator:
    """LocalAuthenticator that counts the password checks it is asked for."""

    def __init__(self, inner: LocalAuthenticator) -> None:
        self.inner = inner
        self.calls = 0

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        self.calls += 1
        return self.inner.authenticate(username, password)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher()


@pytest.fixture(scope="module")
def hashes(hasher: PasswordHasher) -> dict[str, str]:
    return {pw: hasher.hash(Secret(pw)) for pw in (ALICE_PW, ROOT_PW, LOOKALIKE_PW)}


@pytest.fixture
def store(hashes: dict[str, str]) -> MemoryBackend:
    backend = MemoryBackend()
    backend.create_user("alice", hashes[ALICE_PW])
    backend.create_user("root", hashes[ROOT_PW], is_admin=True)
    backend.create_user("carol", hashes[LOOKALIKE_PW])
    backend.create_group("devs")
    ensure_active_key(backend, now=datetime.now(UTC))
    return backend


@pytest.fixture
def authenticator(store: MemoryBackend, hasher: PasswordHasher) -> CountingAuthenticator:
    return CountingAuthenticator(LocalAuthenticator(store, hasher))


def make_service(
    store: MemoryBackend, authenticator: CountingAuthenticator, *, refresh: bool = True
) -> TokenService:
    return TokenService(
        authenticator=authenticator,
        grants=store,
        keys=KeyRing(store),
        signer=TokenSigner("dockit-test"),
        services=[SERVICE, OTHER],
        groups=store,
        refresh_tokens=RefreshTokens(store, LocalIdentityResolver(store)) if refresh else None,
    )


@pytest.fixture
def tokens(store: MemoryBackend, authenticator: CountingAuthenticator) -> TokenService:
    return make_service(store, authenticator)


def login_offline(tokens: TokenService, username: str = "alice", pw: str = ALICE_PW) -> Secret:
    """A new refresh token, as ``docker login`` gets one (GET with ``offline_token``)."""
    request = TokenRequest(
        service=SERVICE, username=username, password=Secret(pw), offline=True, client_id="docker"
    )
    value = tokens.handle(request).refresh_token
    assert value is not None
    assert value != Secret(pw)
    return value


# -- TokenService ---------------------------------------------------------------------------


def test_password_login(tokens: TokenService) -> None:
    login = tokens.logins.login("Alice", Secret(ALICE_PW), service=SERVICE)
    assert login.identity.username == "alice"
    assert login.refresh_token is None
    with pytest.raises(AuthenticationFailed, match="invalid username or password"):
        tokens.logins.login("alice", Secret("wrong"), service=SERVICE)
    with pytest.raises(AuthenticationFailed, match="required"):
        tokens.logins.login("", Secret(ALICE_PW), service=SERVICE)


@pytest.mark.parametrize("username", ["alice", "ALICE", TOKEN_USERNAME, ""])
def test_refresh_token_as_the_password(
    tokens: TokenService, authenticator: CountingAuthenticator, username: str
) -> None:
    value = login_offline(tokens)
    checks = authenticator.calls
    login = tokens.logins.login(username, value, service=SERVICE)
    assert login.identity.username == "alice"
    assert login.refresh_token is not None
    assert login.refresh_token.username == "alice"
    assert authenticator.calls == checks  # no password check: no argon2 on this path


def test_refresh_token_of_another_user(tokens: TokenService) -> None:
    value = login_offline(tokens)
    with pytest.raises(AuthenticationFailed, match="issued to another user"):
        tokens.logins.login("root", value, service=SERVICE)


def test_service_binding(tokens: TokenService) -> None:
    value = login_offline(tokens)
    with pytest.raises(AuthenticationFailed, match="issued for service"):
        tokens.logins.login("alice", value, service=OTHER)
    with pytest.raises(AuthenticationFailed, match="issued for service"):
        tokens.logins.redeem_refresh_token(value, service=OTHER)
    # authenticate() is the Admin API's: any of the user's tokens will do.
    assert tokens.authenticate("alice", value).username == "alice"


def test_a_password_that_looks_like_a_token_still_works(
    tokens: TokenService, authenticator: CountingAuthenticator
) -> None:
    login = tokens.logins.login("carol", Secret(LOOKALIKE_PW), service=SERVICE)
    assert login.identity.username == "carol"
    assert login.refresh_token is None
    assert authenticator.calls == 1


def test_unknown_token_with_the_token_username_skips_the_password_check(
    tokens: TokenService, authenticator: CountingAuthenticator
) -> None:
    for username in (TOKEN_USERNAME, ""):
        with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
            tokens.logins.login(username, Secret("dkr_" + "u" * 43), service=SERVICE)
    assert authenticator.calls == 0
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        tokens.logins.redeem_refresh_token(Secret("dkr_" + "u" * 43), service=SERVICE)
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        tokens.logins.redeem_refresh_token(Secret("a plain password"), service=SERVICE)


def test_tokens_carry_current_grants(tokens: TokenService, store: MemoryBackend) -> None:
    value = login_offline(tokens)
    request = TokenRequest(
        POST,
        SERVICE,
        ["repository:team/app:pull,push"],
        grant_type="refresh_token",
        refresh_token=value,
        client_id="docker",
    )

    def granted() -> list[str]:
        return [s.format() for s in tokens.handle(request).decision.granted_scopes()]

    assert granted() == []
    store.add_grant(Grant("group:devs", "repository", "team/*", ("pull",)))
    assert granted() == []
    store.add_member("devs", "alice")
    assert granted() == ["repository:team/app:pull"]
    store.add_grant(Grant("user:alice", "repository", "team/app", ("push",)))
    assert granted() == ["repository:team/app:pull,push"]
    store.set_group_enabled("devs", False)
    store.delete_grant(2)
    assert granted() == []


def test_admin_by_refresh_token(tokens: TokenService, store: MemoryBackend) -> None:
    root_token = login_offline(tokens, "root", ROOT_PW)
    alice_token = login_offline(tokens)
    assert tokens.authenticate_admin(TOKEN_USERNAME, root_token).username == "root"
    with pytest.raises(PermissionDenied):
        tokens.authenticate_admin("alice", alice_token)
    store.set_user_admin("root", False)  # every use re-reads the account
    with pytest.raises(PermissionDenied):
        tokens.authenticate_admin("root", root_token)


def test_without_refresh_tokens(store: MemoryBackend, authenticator: CountingAuthenticator) -> None:
    tokens = make_service(store, authenticator, refresh=False)
    assert tokens.refresh_tokens is None
    asked = TokenRequest(service=SERVICE, username="alice", password=Secret(ALICE_PW), offline=True)
    outcome = tokens.handle(asked)
    assert outcome.identity is not None
    assert outcome.refresh_token is None
    with pytest.raises(AuthenticationFailed, match="does not accept refresh tokens"):
        tokens.logins.redeem_refresh_token(Secret("dkr_" + "u" * 43), service=SERVICE)
    assert tokens.logins.login(
        "carol", Secret(LOOKALIKE_PW), service=SERVICE
    ).identity.username == ("carol")


@pytest.mark.parametrize("client_id", ["docker", "containerd-client", "a b", "~" * 255])
def test_good_client_ids(client_id: str) -> None:
    assert check_client_id(client_id) == client_id
    assert check_client_id(None) is None


@pytest.mark.parametrize("client_id", ["", "x" * 256, "tab\there", "naïve", "nl\n"])
def test_bad_client_ids(tokens: TokenService, client_id: str) -> None:
    with pytest.raises(InvalidRequest, match="client_id"):
        check_client_id(client_id)
    # A token request checks it only when it asks for a refresh token.
    with pytest.raises(InvalidRequest, match="client_id"):
        tokens.handle(TokenRequest(service=SERVICE, offline=True, client_id=client_id))
    assert tokens.handle(TokenRequest(service=SERVICE, client_id=client_id)).identity is None


# -- AdminService ---------------------------------------------------------------------------


@pytest.fixture
def admin(store: MemoryBackend, hasher: PasswordHasher) -> AdminService:
    return AdminService(store, store, hasher)  # finds the refresh token store by itself


def test_password_change_revokes(
    tokens: TokenService, admin: AdminService, store: MemoryBackend
) -> None:
    value = login_offline(tokens)
    login_offline(tokens, "root", ROOT_PW)
    admin.set_password("alice", Secret("alice-password-2"), actor=TEST_ACTOR)
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        tokens.logins.redeem_refresh_token(value, service=SERVICE)
    assert store.list_refresh_tokens(username="root").total == 1  # others keep theirs
    assert tokens.logins.login("alice", Secret("alice-password-2"), service=SERVICE).identity


def test_disabling_revokes_and_other_updates_do_not(
    tokens: TokenService, admin: AdminService
) -> None:
    value = login_offline(tokens)
    admin.update_user("alice", is_admin=True, actor=TEST_ACTOR)
    admin.update_user("alice", enabled=True, actor=TEST_ACTOR)
    assert tokens.logins.redeem_refresh_token(value, service=SERVICE).identity.is_admin
    admin.update_user("alice", enabled=False, actor=TEST_ACTOR)
    admin.update_user("alice", enabled=True, actor=TEST_ACTOR)
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        tokens.logins.redeem_refresh_token(value, service=SERVICE)


def test_deleting_revokes(tokens: TokenService, admin: AdminService) -> None:
    value = login_offline(tokens)
    admin.delete_user("alice", actor=TEST_ACTOR)
    with pytest.raises(AuthenticationFailed):
        tokens.logins.redeem_refresh_token(value, service=SERVICE)


def test_admin_listing_and_revoking(tokens: TokenService, admin: AdminService) -> None:
    login_offline(tokens)
    second = login_offline(tokens)
    page = admin.list_refresh_tokens("ALICE")
    assert page.total == 2
    assert admin.list_refresh_tokens("alice", offset=1, limit=1).items == page.items[1:]
    assert admin.list_refresh_tokens("root").total == 0
    with pytest.raises(NotFound):
        admin.list_refresh_tokens("nobody")
    with pytest.raises(ValidationError):
        admin.list_refresh_tokens("alice", limit=0)
    revoked = admin.revoke_refresh_token(page.items[0].id, actor=TEST_ACTOR)
    assert revoked == page.items[0]
    with pytest.raises(NotFound):
        admin.revoke_refresh_token(page.items[0].id, actor=TEST_ACTOR)
    for bad in ("", "x" * 129, "a\nb"):
        with pytest.raises(ValidationError):
            admin.revoke_refresh_token(bad, actor=TEST_ACTOR)
    assert admin.revoke_user_refresh_tokens("alice", actor=TEST_ACTOR) == 1
    assert admin.revoke_user_refresh_tokens("alice", actor=TEST_ACTOR) == 0
    with pytest.raises(NotFound):
        admin.revoke_user_refresh_tokens("nobody", actor=TEST_ACTOR)
    with pytest.raises(AuthenticationFailed):
        tokens.logins.redeem_refresh_token(second, service=SERVICE)


def test_admin_without_a_refresh_token_store(store: MemoryBackend, hasher: PasswordHasher) -> None:
    class UsersOnly:
        """Forwards only what AdminService needs; not a RefreshTokenStore."""

        def __getattr__(self, name: str) -> object:
            if "refresh_token" in name:
                raise AttributeError(name)
            return getattr(store, name)

    admin = AdminService(UsersOnly(), store, hasher)  # type: ignore[arg-type]
    assert admin.refresh_tokens is None
    assert admin.list_refresh_tokens("alice").total == 0
    assert admin.revoke_user_refresh_tokens("alice", actor=TEST_ACTOR) == 0
    with pytest.raises(NotFound):
        admin.revoke_refresh_token("0123456789abcdef", actor=TEST_ACTOR)
    admin.set_password("alice", Secret("alice-password-3"), actor=TEST_ACTOR)
