"""TokenService.handle: a whole token request, from what was sent to the signed token and its
audit record, over the memory backend and the SQL backend (a SQLite file)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libdockit.audit import Auditor
from libdockit.backends.base import GrantSource
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.backends.sql.backend import SqlBackend
from libdockit.errors import (
    AuthenticationFailed,
    DockitError,
    InvalidRequest,
    UnknownService,
    UnsupportedGrantType,
)
from libdockit.keys.ring import KeyRing, ensure_active_key
from libdockit.model import AuditEvent, Grant
from libdockit.passwords import PasswordHasher
from libdockit.refresh import LocalIdentityResolver, RefreshTokens
from libdockit.secret import Secret
from libdockit.service import TokenService
from libdockit.token_request import POST, TokenOutcome, TokenRequest
from libdockit.tokens import TokenSigner
from tests.support.verifier import verify_token

ISSUER = "dockit-test"
SERVICE = "registry.test"
ALICE_PW = "alice-password-1"
HINT = ": add it to the allow-list"
WHERE: dict[str, Any] = {"client_address": "192.0.2.7", "request_id": "req-7"}

Store = MemoryBackend | SqlBackend


@pytest.fixture(scope="module")
def alice_hash() -> str:
    return PasswordHasher().hash(Secret(ALICE_PW))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path, alice_hash: str) -> Iterator[Store]:
    backend: Store
    if request.param == "memory":
        backend = MemoryBackend()
    else:
        backend = SqlBackend(f"sqlite:///{tmp_path / 'dockit.db'}")
        backend.migrate()
    backend.create_user("alice", alice_hash)
    backend.add_grant(Grant("user:alice", "repository", "alice/*", ("push",)))
    backend.add_grant(Grant("anonymous", "repository", "public/*", ("pull",)))
    ensure_active_key(backend, now=datetime.now(UTC))
    yield backend
    if isinstance(backend, SqlBackend):
        backend.close()


class CountingGrants:
    """The store's grants, counting the reads (one per request)."""

    def __init__(self, inner: GrantSource) -> None:
        self.inner = inner
        self.reads: list[tuple[str, ...]] = []

    def grants_for_subjects(self, subjects: Sequence[str]) -> list[Grant]:
        self.reads.append(tuple(subjects))
        return list(self.inner.grants_for_subjects(subjects))


@pytest.fixture
def grants(store: Store) -> CountingGrants:
    return CountingGrants(store)


def make_service(store: Store, grants: GrantSource, *, audit: Auditor | None) -> TokenService:
    return TokenService(
        authenticator=LocalAuthenticator(store, PasswordHasher()),
        grants=grants,
        keys=KeyRing(store),
        signer=TokenSigner(ISSUER),
        services=[SERVICE],
        groups=store,
        refresh_tokens=RefreshTokens(store, LocalIdentityResolver(store)),
        audit=audit,
        unknown_service_hint=HINT,
    )


@pytest.fixture
def tokens(store: Store, grants: CountingGrants) -> TokenService:
    return make_service(store, grants, audit=Auditor(store))


def alice(**fields: Any) -> TokenRequest:
    """Alice's request with her password, and ``fields`` instead of the defaults."""
    sent: dict[str, Any] = {"service": SERVICE, "username": "alice", "password": Secret(ALICE_PW)}
    return TokenRequest(**{**sent, **fields})


def only_event(store: Store) -> AuditEvent:
    [event] = store.query_events(kind="token").items
    return event


def claims(store: Store, outcome: TokenOutcome) -> dict[str, Any]:
    bundle = KeyRing(store).bundle_pem()
    return verify_token(outcome.token.token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE)


def refused(tokens: TokenService, request: TokenRequest, error: type[DockitError]) -> str:
    with pytest.raises(error) as caught:
        tokens.handle(request)
    return caught.value.message


# -- issued ---------------------------------------------------------------------------------


def test_a_password_login_is_issued_and_recorded(
    tokens: TokenService, store: Store, grants: CountingGrants
) -> None:
    outcome = tokens.handle(
        alice(scopes=["repository:alice/app:pull,push,delete repository:other/x:pull"], **WHERE)
    )
    assert outcome.identity is not None
    assert outcome.identity.username == "alice"
    assert outcome.refresh_token is None
    assert claims(store, outcome)["access"] == [
        {"type": "repository", "name": "alice/app", "actions": ["pull", "push"]},
        {"type": "repository", "name": "other/x", "actions": []},
    ]
    # One read of the grants, for the subjects the caller holds.
    assert grants.reads == [("user:alice", "authenticated", "anonymous")]
    event = only_event(store)
    assert (event.kind, event.actor, event.action, event.target) == (
        "token",
        "user:alice",
        "token.issue",
        SERVICE,
    )
    assert (event.client_address, event.request_id) == ("192.0.2.7", "req-7")
    assert event.detail == {
        "service": SERVICE,
        "requested": ["repository:alice/app:pull,push,delete", "repository:other/x:pull"],
        "granted": ["repository:alice/app:pull,push"],
        "outcome": "issued",
        "method": "GET",
    }


def test_an_anonymous_token(tokens: TokenService, store: Store, grants: CountingGrants) -> None:
    outcome = tokens.handle(TokenRequest(service=SERVICE, scopes=["repository:public/x:pull"]))
    assert outcome.identity is None
    assert claims(store, outcome)["sub"] == ""
    assert outcome.decision.granted_texts() == ["repository:public/x:pull"]
    assert grants.reads == [("anonymous",)]
    event = only_event(store)
    assert (event.actor, event.action) == ("anonymous", "token.issue")
    assert event.detail is not None
    assert event.detail["granted"] == ["repository:public/x:pull"]
    # offline_token without credentials: no refresh token, nothing checked.
    assert tokens.handle(TokenRequest(service=SERVICE, offline=True)).refresh_token is None


def test_a_refresh_token_grant(tokens: TokenService, store: Store) -> None:
    login = tokens.handle(alice(offline=True, client_id="docker"))
    value = login.refresh_token
    assert value is not None
    [record] = store.list_refresh_tokens(username="alice").items
    assert (record.service, record.client_id) == (SERVICE, "docker")
    outcome = tokens.handle(
        TokenRequest(
            POST,
            SERVICE,
            ["repository:alice/app:pull"],
            grant_type="refresh_token",
            refresh_token=value,
            client_id="docker",
            offline=True,
        )
    )
    assert outcome.identity is not None
    assert outcome.identity.username == "alice"
    assert outcome.refresh_token == value  # the same token, not a new one
    assert store.list_refresh_tokens(username="alice").total == 1
    [refreshed, first] = store.query_events(kind="token").items
    assert (refreshed.actor, refreshed.action) == ("user:alice", "token.issue")
    assert refreshed.detail is not None
    assert (refreshed.detail["method"], refreshed.detail["grant_type"]) == ("POST", "refresh_token")
    assert refreshed.detail["granted"] == ["repository:alice/app:pull"]
    assert first.detail is not None
    assert "grant_type" not in first.detail
    assert value.reveal() not in repr(store.query_events().items)


def test_a_password_grant_asks_for_a_new_refresh_token(tokens: TokenService, store: Store) -> None:
    outcome = tokens.handle(alice(method=POST, grant_type="password", client_id="c", offline=True))
    assert outcome.refresh_token is not None
    assert store.list_refresh_tokens(username="alice").total == 1
    assert only_event(store).detail == {
        "service": SERVICE,
        "requested": [],
        "granted": [],
        "outcome": "issued",
        "method": "POST",
        "grant_type": "password",
    }


# -- refused --------------------------------------------------------------------------------


def test_a_wrong_password_is_refused_and_recorded(tokens: TokenService, store: Store) -> None:
    request = TokenRequest(
        service=SERVICE,
        scopes=["repository:alice/app:pull  repository:b:pull"],
        username="ALICE",
        password=Secret("wrong"),
        **WHERE,
    )
    message = refused(tokens, request, AuthenticationFailed)
    event = only_event(store)
    # The user the refused login claimed (normalised), never the password.
    assert (event.actor, event.action, event.target) == ("user:alice", "token.refuse", SERVICE)
    assert (event.client_address, event.request_id) == ("192.0.2.7", "req-7")
    assert event.detail == {
        "service": SERVICE,
        "requested": ["repository:alice/app:pull", "repository:b:pull"],
        "granted": None,
        "outcome": "refused (401)",
        "reason": "UNAUTHORIZED",
        "message": message,
        "method": "GET",
    }
    assert "wrong" not in repr(event)


def test_refused_before_the_login(tokens: TokenService, store: Store) -> None:
    """A bad request is refused before its credentials are checked: nobody is named."""
    message = refused(tokens, alice(service="elsewhere"), UnknownService)
    assert message.endswith(HINT)
    message_scope = refused(tokens, alice(scopes=["bad"]), InvalidRequest)
    first, second = reversed(store.query_events(kind="token").items)
    for event, said in ((first, message), (second, message_scope)):
        assert (event.actor, event.action) == ("anonymous", "token.refuse")
        assert event.detail is not None
        assert event.detail["outcome"] == "refused (400)"
        assert event.detail["message"] == said
    assert first.target == "elsewhere"  # as sent
    assert second.detail is not None
    assert (second.detail["reason"], second.detail["requested"]) == ("SCOPE_INVALID", ["bad"])


def test_refused_after_the_login_names_the_user(tokens: TokenService, store: Store) -> None:
    refused(tokens, alice(account="bob"), InvalidRequest)
    assert only_event(store).actor == "user:alice"


def test_form_fields_are_checked_in_order(tokens: TokenService, store: Store) -> None:
    form = TokenRequest(POST, SERVICE, client_id="c", username="alice")
    said = [
        refused(tokens, form, InvalidRequest),
        refused(tokens, TokenRequest(POST, grant_type="client_credentials"), UnsupportedGrantType),
        refused(tokens, TokenRequest(POST, grant_type="password"), InvalidRequest),
        refused(
            tokens, TokenRequest(POST, SERVICE, grant_type="password", client_id=""), InvalidRequest
        ),
        refused(
            tokens,
            TokenRequest(POST, SERVICE, grant_type="password", client_id="c", username="alice"),
            InvalidRequest,
        ),
        refused(
            tokens,
            TokenRequest(POST, SERVICE, grant_type="refresh_token", client_id="c"),
            InvalidRequest,
        ),
    ]
    assert said == [
        "the 'grant_type' field is required",
        "the 'grant_type' field must be 'password' or 'refresh_token'",
        "the 'service' field is required",
        "the 'client_id' field is required",
        "the 'password' field is required",
        "the 'refresh_token' field is required",
    ]
    events = list(reversed(store.query_events(kind="token").items))
    assert [e.detail["outcome"] for e in events if e.detail] == ["refused (400)"] * 6
    # The grant type is recorded once it is one Dockit serves.
    assert [e.detail.get("grant_type") for e in events if e.detail] == [
        None,
        None,
        "password",
        "password",
        "password",
        "refresh_token",
    ]


def test_an_unreadable_request_is_refused_and_recorded(tokens: TokenService, store: Store) -> None:
    """What the HTTP layer could not read is refused with its error, recorded first."""
    error = AuthenticationFailed("the Basic credentials are malformed")
    with pytest.raises(AuthenticationFailed) as caught:
        tokens.handle(TokenRequest(service="sent", scopes=["a b"], unreadable=error))
    assert caught.value is error
    event = only_event(store)
    assert (event.actor, event.target) == ("anonymous", "sent")
    assert event.detail is not None
    assert (event.detail["outcome"], event.detail["requested"]) == ("refused (401)", ["a", "b"])
    assert event.detail["message"] == "the Basic credentials are malformed"


def test_an_unexpected_failure_is_recorded_as_a_500(store: Store) -> None:
    class Broken:
        def grants_for_subjects(self, subjects: Sequence[str]) -> list[Grant]:
            raise RuntimeError("bug: details nobody outside should see")

    tokens = make_service(store, Broken(), audit=Auditor(store))
    with pytest.raises(RuntimeError):
        tokens.handle(alice(scopes=["repository:alice/app:pull"]))
    event = only_event(store)
    assert event.actor == "user:alice"
    assert event.detail is not None
    assert (event.detail["outcome"], event.detail["message"]) == ("refused (500)", "internal error")
    assert "reason" not in event.detail
    assert "bug" not in repr(event)


def test_without_an_auditor(store: Store, grants: CountingGrants) -> None:
    tokens = make_service(store, grants, audit=None)
    assert tokens.handle(alice()).identity is not None
    with pytest.raises(AuthenticationFailed):
        tokens.handle(alice(password=Secret("wrong")))
    assert store.query_events().total == 0
