"""Robot accounts and personal access tokens logging in (libdockit.credential_login) through
the whole token path, as ``libdockit.assemble`` wires them by default, on the memory store,
a SQLite file and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from libdockit import Options, assemble
from libdockit.access_credentials import new_access_credential
from libdockit.assembly import Dockit
from libdockit.credential_login import AccessCredentialExchange
from libdockit.errors import AuthenticationFailed, BackendUnavailable, PermissionDenied
from libdockit.keys.ring import ensure_active_key
from libdockit.model import AccessCredential, CredentialKind, Grant, Identity
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.token_request import TokenOutcome, TokenRequest
from tests.support.stores import STORE_KINDS, Backend, fresh_store
from tests.support.verifier import verify_token

ISSUER = "dockit-test"
SERVICE = "registry.test"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
ALICE_PASSWORD = "alice-password-1"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with fresh_store(request.param, request, tmp_path) as backend:
        backend.create_user("alice", PasswordHasher().hash(Secret(ALICE_PASSWORD)))
        backend.create_user("ci", PasswordHasher().hash(Secret("ci-user-password-1")))
        backend.create_group("builders")
        backend.add_grant(Grant("user:alice", "repository", "alice/**", ("push",)))
        backend.add_grant(Grant("user:ci", "repository", "ci-user/**", ("push",)))
        backend.add_grant(Grant("robot:ci", "repository", "ci/**", ("push",)))
        backend.add_grant(Grant("authenticated", "repository", "shared/*", ("pull",)))
        backend.add_grant(Grant("anonymous", "repository", "public/*", ("pull",)))
        yield backend


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dockit(store: Backend, clock: Clock) -> Iterator[Dockit]:
    options = Options(
        issuer=ISSUER,
        services=[SERVICE],
        token_lifetime=300,
        max_credential_token_lifetime=3600,
        clock=clock,
    )
    ensure_active_key(store, now=T0 - timedelta(minutes=1))
    built = assemble(store, options)
    yield built
    if built.auditor is not None:
        built.auditor.close()


def add(
    store: Backend,
    kind: CredentialKind,
    name: str,
    owner: str,
    *,
    expires_in: timedelta | None = timedelta(days=30),
    **fields: Any,
) -> tuple[AccessCredential, str]:
    record, secret = new_access_credential(
        kind,
        name,
        owner,
        now=T0,
        expires_at=None if expires_in is None else T0 + expires_in,
        **fields,
    )
    return store.add_access_credential(record), secret.reveal()


def ask(dockit: Dockit, username: str, secret: str, *scopes: str, **fields: Any) -> TokenOutcome:
    request = TokenRequest(
        service=SERVICE,
        scopes=list(scopes),
        username=username,
        password=Secret(secret),
        client_address=fields.pop("client_address", "192.0.2.9"),
        **fields,
    )
    return dockit.tokens.handle(request)


def claims(dockit: Dockit, outcome: TokenOutcome) -> dict[str, Any]:
    token = outcome.token.token
    bundle = dockit.keys.bundle_pem()
    return verify_token(token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE, now=T0)


def granted(dockit: Dockit, username: str, secret: str, *scopes: str) -> list[list[str]]:
    token = claims(dockit, ask(dockit, username, secret, *scopes))
    return [entry["actions"] for entry in token["access"]]


def last_token_event(dockit: Dockit) -> dict[str, Any]:
    assert dockit.auditor is not None
    dockit.auditor.flush()
    event = dockit.store.query_events(kind="token").items[0]
    return {"actor": event.actor, **(event.detail or {})}


# -- robots -------------------------------------------------------------------------------


def test_a_robot_gets_its_own_grants_and_public_ones_only(store: Backend, dockit: Dockit) -> None:
    """Never those of ``authenticated`` nor of the user with the robot's name."""
    _, secret = add(store, "robot", "ci", "user:alice")
    outcome = ask(
        dockit,
        "CI",  # normalised like every name
        secret,
        "repository:ci/app:push",
        "repository:ci-user/app:push",
        "repository:shared/base:pull",
        "repository:public/base:pull",
        "repository:alice/app:pull",
    )
    token = claims(dockit, outcome)
    assert [entry["actions"] for entry in token["access"]] == [
        ["push"],
        [],
        [],
        ["pull"],
        [],
    ]
    assert token["sub"] == "robot:ci"
    assert token["exp"] - token["iat"] == 300
    event = last_token_event(dockit)
    assert event["actor"] == "robot:ci"
    assert event["credential"] == {"kind": "robot", "id": "robot:ci"}
    assert outcome.refresh_token is None


def test_a_robot_gets_no_refresh_token_even_when_asked(store: Backend, dockit: Dockit) -> None:
    _, secret = add(store, "robot", "ci", "user:alice")
    outcome = ask(dockit, "ci", secret, offline=True, client_id="docker")
    assert outcome.refresh_token is None
    assert store.list_refresh_tokens().items == []


def test_a_robot_secret_is_no_password_of_the_user_named_alike(
    store: Backend, dockit: Dockit
) -> None:
    """The robot's secret does not log in as another name, and the user's password does not
    log in as the robot."""
    _, secret = add(store, "robot", "ci", "user:alice")
    with pytest.raises(AuthenticationFailed, match="not the robot account's name"):
        ask(dockit, "alice", secret, "repository:ci/app:pull")
    event = last_token_event(dockit)
    assert (event["actor"], event["credential"]["id"]) == ("robot:ci", "robot:ci")
    # The user ci's own password is still the user's, with the user's grants.
    assert granted(dockit, "ci", "ci-user-password-1", "repository:ci/app:push") == [[]]


@pytest.mark.parametrize("owner", ["user:alice", "group:builders"])
def test_a_robot_whose_owner_goes_is_refused(store: Backend, dockit: Dockit, owner: str) -> None:
    _, secret = add(store, "robot", "ci", owner)
    assert granted(dockit, "ci", secret, "repository:ci/app:pull") == [["pull"]]
    if owner.startswith("user:"):
        store.set_user_enabled("alice", False)
    else:
        store.set_group_enabled("builders", False)
    with pytest.raises(AuthenticationFailed, match=r"owner|owning group"):
        ask(dockit, "ci", secret, "repository:ci/app:pull")
    if owner.startswith("user:"):
        store.delete_user("alice")
    else:
        store.delete_group("builders")
    # Deleting the owner deletes its credentials: the secret is now unknown.
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        ask(dockit, "ci", secret, "repository:ci/app:pull")


# -- refusals, both kinds ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["robot", "pat"])
def test_expired_disabled_and_revoked_credentials_are_refused_on_the_next_request(
    store: Backend, dockit: Dockit, clock: Clock, kind: CredentialKind
) -> None:
    name, user = ("ci", "ci") if kind == "robot" else ("laptop", "alice")
    record, secret = add(store, kind, name, "user:alice", expires_in=timedelta(hours=1))
    scope = "repository:ci/app:pull" if kind == "robot" else "repository:alice/app:pull"
    assert granted(dockit, user, secret, scope) == [["pull"]]

    store.set_access_credential_enabled(record.id, False)
    with pytest.raises(AuthenticationFailed, match="is disabled"):
        ask(dockit, user, secret, scope)
    event = last_token_event(dockit)
    assert event["outcome"] == "refused (401)"
    assert event["credential"]["kind"] == kind
    assert event["actor"] == ("robot:ci" if kind == "robot" else "user:alice")
    store.set_access_credential_enabled(record.id, True)
    assert granted(dockit, user, secret, scope) == [["pull"]]

    clock.advance(hours=1)
    with pytest.raises(AuthenticationFailed, match="is expired"):
        ask(dockit, user, secret, scope)
    clock.now = T0
    store.delete_access_credential(record.id)
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        ask(dockit, user, secret, scope)
    # Whose it was is no longer known: the claimed user, and that it was such a secret.
    event = last_token_event(dockit)
    assert (event["actor"], event["credential"]) == (
        f"user:{user}",
        {"kind": "access_credential", "id": "unknown"},
    )


def test_a_password_is_still_checked_as_a_password(dockit: Dockit) -> None:
    assert granted(dockit, "alice", ALICE_PASSWORD, "repository:alice/app:pull") == [["pull"]]
    with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
        ask(dockit, "alice", "dkt_" + "A" * 43, "repository:alice/app:pull")


def test_the_admin_api_refuses_both_kinds(store: Backend, dockit: Dockit) -> None:
    store.set_user_admin("alice", True)
    _, robot = add(store, "robot", "ci", "user:alice")
    _, pat = add(store, "pat", "laptop", "user:alice")
    for user, secret in (("ci", robot), ("alice", pat)):
        with pytest.raises(PermissionDenied, match="cannot use the Admin API"):
            dockit.tokens.authenticate_admin(user, Secret(secret))


# -- personal access tokens ---------------------------------------------------------------


def test_a_pat_gets_the_owners_current_grants_within_its_scopes(
    store: Backend, dockit: Dockit
) -> None:
    record, secret = add(store, "pat", "laptop", "user:alice", scopes=["repository:alice/app:pull"])
    assert granted(
        dockit,
        "alice",
        secret,
        "repository:alice/app:pull,push",
        "repository:alice/other:pull",
        "repository:shared/base:pull",
    ) == [["pull"], [], []]
    token = claims(dockit, ask(dockit, "alice", secret, "repository:alice/app:pull"))
    assert token["sub"] == "alice"
    event = last_token_event(dockit)
    assert event["actor"] == "user:alice"
    assert event["credential"] == {"kind": "pat", "id": f"pat:{record.id}"}


def test_an_owner_who_loses_a_grant_or_is_disabled_loses_it_through_the_token(
    store: Backend, dockit: Dockit
) -> None:
    _, secret = add(store, "pat", "laptop", "user:alice")
    assert granted(dockit, "alice", secret, "repository:alice/app:push") == [["push"]]
    [grant] = [g for g in store.list_grants().items if g.subject == "user:alice"]
    assert grant.id is not None
    store.delete_grant(grant.id)
    assert granted(dockit, "alice", secret, "repository:alice/app:push") == [[]]
    store.set_user_enabled("alice", False)
    with pytest.raises(AuthenticationFailed, match="owner is disabled"):
        ask(dockit, "alice", secret, "repository:shared/base:pull")


def test_a_pat_must_come_with_its_owners_name(store: Backend, dockit: Dockit) -> None:
    _, secret = add(store, "pat", "laptop", "user:alice")
    with pytest.raises(AuthenticationFailed, match="not the access token's owner"):
        ask(dockit, "ci", secret, "repository:alice/app:pull")


def test_an_owner_that_cannot_be_resolved_is_a_503_not_a_401(store: Backend) -> None:
    class Unreachable:
        def identity_for(self, username: str, *, source: str = "local") -> Identity | None:
            raise BackendUnavailable("the directory does not answer")

    record, secret = new_access_credential(
        "pat", "laptop", "user:dana", now=T0, expires_at=None, owner_source="LDAP"
    )
    store.add_access_credential(record)
    exchange = AccessCredentialExchange(store, Unreachable(), store, clock=lambda: T0)
    with pytest.raises(BackendUnavailable):
        exchange.exchange("dana", secret, service=SERVICE)


# -- lifetime and last use ----------------------------------------------------------------


@pytest.mark.parametrize(("own", "expected"), [(None, 300), (1200, 1200), (7200, 3600)])
def test_the_access_token_lives_the_credentials_lifetime_up_to_the_cap(
    store: Backend, dockit: Dockit, own: int | None, expected: int
) -> None:
    lifetime = None if own is None else timedelta(seconds=own)
    _, secret = add(store, "robot", "ci", "user:alice", access_token_lifetime=lifetime)
    token = claims(dockit, ask(dockit, "ci", secret, "repository:ci/app:push"))
    assert token["exp"] - token["iat"] == expected


def test_last_use_is_written_at_most_once_a_minute(
    store: Backend, dockit: Dockit, clock: Clock
) -> None:
    record, secret = add(store, "pat", "laptop", "user:alice")
    assert store.get_access_credential(record.id).last_used_at is None
    ask(dockit, "alice", secret, client_address="192.0.2.1")
    first = store.get_access_credential(record.id)
    assert (first.last_used_at, first.last_used_from) == (T0, "192.0.2.1")
    clock.advance(seconds=30)
    ask(dockit, "alice", secret, client_address="192.0.2.2")
    assert store.get_access_credential(record.id) == first
    clock.advance(seconds=31)
    ask(dockit, "alice", secret, client_address="192.0.2.3")
    later = store.get_access_credential(record.id)
    assert (later.last_used_at, later.last_used_from) == (T0 + timedelta(seconds=61), "192.0.2.3")
    assert replace(later, last_used_at=None, last_used_from=None) == replace(
        first, last_used_at=None, last_used_from=None
    )


def test_access_credentials_can_be_turned_off(store: Backend, clock: Clock) -> None:
    ensure_active_key(store, now=T0 - timedelta(minutes=1))
    built = assemble(
        store, Options(issuer=ISSUER, services=[SERVICE], access_credentials=False, clock=clock)
    )
    _, secret = add(store, "pat", "laptop", "user:alice")
    with pytest.raises(AuthenticationFailed, match="invalid username or password"):
        ask(built, "alice", secret, "repository:alice/app:pull")
    if built.auditor is not None:
        built.auditor.close()
