"""Delegated logins (libdockit.delegation) through the whole token path: a credential
exchange's Login decides whose grants apply, how they are narrowed, how long the token lives,
that no refresh token is issued, what the audit log names, and that the Admin API refuses it.

The exchange here is the test's own: it stands for the robot, personal-token and federation
exchanges, which have their own tests; what is under test is the token path that reads it,
assembled with ``libdockit.assemble`` on the memory store and on a SQLite file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libdockit import Options, assemble
from libdockit.assembly import Dockit
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.backends.sql.backend import SqlBackend
from libdockit.delegation import Delegation
from libdockit.errors import AuthenticationFailed, PermissionDenied, TooManyAttempts
from libdockit.keys.ring import ensure_active_key
from libdockit.login import Login
from libdockit.model import Grant, Identity
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.throttle import ThrottlePolicy
from libdockit.token_request import POST, TokenOutcome, TokenRequest
from tests.support.verifier import verify_token

ISSUER = "dockit-test"
SERVICE = "registry.test"
PUSH_GRANT = Grant("user:alice", "repository", "alice/**", ("push",))


class WordExchange:
    """Logs in ``word:<kind>`` passwords as a delegated login of ``alice``, with the
    delegation the test sets; ``word:wrong`` is refused; anything else is not its kind."""

    def __init__(self) -> None:
        self.delegation = Delegation(kind="pat", credential="pat:t1", actor="user:alice")
        self.services: list[str | None] = []

    def exchange(
        self,
        username: str,
        password: Secret,
        *,
        service: str | None,
        client_address: str | None = None,
    ) -> Login | None:
        value = password.reveal()
        if not value.startswith("word:"):
            return None
        self.services.append(service)
        if value.startswith("word:wrong"):
            raise AuthenticationFailed("the access token is unknown or revoked")
        return Login(Identity(username="alice"), delegation=self.delegation)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryBackend | SqlBackend]:
    backend: MemoryBackend | SqlBackend
    if request.param == "memory":
        backend = MemoryBackend()
    else:
        backend = SqlBackend(f"sqlite:///{tmp_path / 'dockit.db'}")
        backend.migrate()
    backend.create_user("alice", PasswordHasher().hash(Secret("alice-password-1")))
    backend.add_grant(PUSH_GRANT)
    backend.add_grant(Grant("authenticated", "repository", "shared/*", ("pull",)))
    yield backend
    if isinstance(backend, SqlBackend):
        backend.close()


@pytest.fixture
def exchange() -> WordExchange:
    return WordExchange()


@pytest.fixture
def dockit(store: MemoryBackend | SqlBackend, exchange: WordExchange) -> Iterator[Dockit]:
    options = Options(
        issuer=ISSUER,
        services=[SERVICE],
        token_lifetime=300,
        throttle=ThrottlePolicy(max_failures=2),
    )
    ensure_active_key(store, now=datetime.now(UTC))
    built = assemble(store, options, exchanges=[exchange])
    yield built
    if built.auditor is not None:
        built.auditor.close()


def ask(dockit: Dockit, password: str, *scopes: str, **fields: Any) -> TokenOutcome:
    request = TokenRequest(
        service=SERVICE,
        scopes=list(scopes),
        username="alice",
        password=Secret(password),
        client_address="192.0.2.9",
        **fields,
    )
    return dockit.tokens.handle(request)


def claims(dockit: Dockit, outcome: TokenOutcome) -> dict[str, Any]:
    bundle = dockit.keys.bundle_pem()
    return verify_token(outcome.token.token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE)


def actions_granted(dockit: Dockit, password: str, scope: str) -> list[str]:
    actions: list[str] = claims(dockit, ask(dockit, password, scope))["access"][0]["actions"]
    return actions


def last_token_event(dockit: Dockit) -> dict[str, Any]:
    assert dockit.auditor is not None
    dockit.auditor.flush()
    event = dockit.store.query_events(kind="token").items[0]
    return {"actor": event.actor, "action": event.action, **(event.detail or {})}


def test_scopes_narrow_the_owners_grants(dockit: Dockit, exchange: WordExchange) -> None:
    exchange.delegation = Delegation(
        kind="pat",
        credential="pat:t1",
        actor="user:alice",
        scopes=("repository:alice/app:pull", "repository:shared/*:pull"),
    )
    outcome = ask(
        dockit,
        "word:pat",
        "repository:alice/app:pull,push",
        "repository:alice/other:pull",
        "repository:shared/base:pull",
    )
    assert claims(dockit, outcome)["access"] == [
        {"type": "repository", "name": "alice/app", "actions": ["pull"]},
        {"type": "repository", "name": "alice/other", "actions": []},
        {"type": "repository", "name": "shared/base", "actions": ["pull"]},
    ]
    assert exchange.services == [SERVICE]


def test_an_owner_who_loses_a_grant_loses_it_through_the_token(
    dockit: Dockit, exchange: WordExchange
) -> None:
    exchange.delegation = Delegation(
        kind="pat", credential="pat:t1", actor="user:alice", scopes=("repository:alice/**:push",)
    )
    assert actions_granted(dockit, "word:pat", "repository:alice/app:push") == ["push"]
    [stored] = [g for g in dockit.store.list_grants().items if g.pattern == PUSH_GRANT.pattern]
    assert stored.id is not None
    dockit.store.delete_grant(stored.id)
    assert actions_granted(dockit, "word:pat", "repository:alice/app:push") == []


def test_each_delegation_is_decided_by_its_own_scopes_and_actor(
    dockit: Dockit, exchange: WordExchange
) -> None:
    """Two tokens of one owner asking for the same thing, one after the other: each gets
    what its own scopes allow, under its own actor (decisions are remembered, and what a
    delegation narrows by is part of what they are found by)."""
    scope = "repository:alice/app:pull,push"
    exchange.delegation = Delegation(
        kind="pat", credential="pat:t1", actor="user:alice", scopes=("repository:alice/**:pull",)
    )
    assert actions_granted(dockit, "word:pat", scope) == ["pull"]
    exchange.delegation = Delegation(
        kind="pat", credential="pat:t2", actor="user:alice", scopes=("repository:alice/**:push",)
    )
    assert actions_granted(dockit, "word:pat", scope) == ["pull", "push"]
    exchange.delegation = Delegation(
        kind="robot", credential="robot:r", actor="robot:r", subjects=("user:alice",)
    )
    ask(dockit, "word:robot", scope)
    assert last_token_event(dockit)["actor"] == "robot:r"
    exchange.delegation = Delegation(
        kind="robot", credential="robot:s", actor="robot:s", subjects=("user:alice",)
    )
    ask(dockit, "word:robot", scope)
    assert last_token_event(dockit)["actor"] == "robot:s"


def test_named_subjects_replace_the_identitys(dockit: Dockit, exchange: WordExchange) -> None:
    """A robot's grants are its own: the user of the same name and ``authenticated`` give
    nothing to it."""
    dockit.store.add_grant(Grant("group:robots", "repository", "ci/*", ("push",)))
    exchange.delegation = Delegation(
        kind="robot",
        credential="robot:alice",
        actor="robot:alice",
        subjects=("group:robots",),
        token_subject="robot:alice",
    )
    outcome = ask(
        dockit,
        "word:robot",
        "repository:ci/app:push",
        "repository:alice/app:push",
        "repository:shared/base:pull",
    )
    token = claims(dockit, outcome)
    assert [entry["actions"] for entry in token["access"]] == [["push"], [], []]
    assert token["sub"] == "robot:alice"
    assert outcome.decision.subject == "robot:alice"


def test_fixed_grants_and_lifetime(dockit: Dockit, exchange: WordExchange) -> None:
    exchange.delegation = Delegation(
        kind="federation",
        credential="federation:github",
        actor="federation:github",
        grants=(Grant("federation:github", "repository", "ci/acme/**", ("push",)),),
        subjects=("federation:github",),
        token_lifetime=60,
        detail={"issuer": "https://issuer.test", "sub": "repo:acme/app", "jti": "j-1"},
    )
    outcome = ask(dockit, "word:fed", "repository:ci/acme/app:push", "repository:alice/app:push")
    token = claims(dockit, outcome)
    assert [entry["actions"] for entry in token["access"]] == [["push"], []]
    assert token["exp"] - token["iat"] == 60
    event = last_token_event(dockit)
    assert event["actor"] == "federation:github"
    assert event["granted"] == ["repository:ci/acme/app:push"]
    assert event["credential"] == {
        "kind": "federation",
        "id": "federation:github",
        "issuer": "https://issuer.test",
        "sub": "repo:acme/app",
        "jti": "j-1",
    }


def test_no_refresh_token_for_a_delegated_login(dockit: Dockit) -> None:
    outcome = ask(dockit, "word:pat", offline=True, client_id="docker")
    assert outcome.refresh_token is None
    post = TokenRequest(
        method=POST,
        grant_type="password",
        service=SERVICE,
        client_id="docker",
        username="alice",
        password=Secret("word:pat"),
        offline=True,
    )
    assert dockit.tokens.handle(post).refresh_token is None
    # The same user's password still gets one.
    assert ask(dockit, "alice-password-1", offline=True, client_id="docker").refresh_token


def test_the_admin_api_refuses_a_delegated_login(dockit: Dockit) -> None:
    with pytest.raises(PermissionDenied, match="personal access token"):
        dockit.tokens.authenticate("alice", Secret("word:pat"))
    assert dockit.tokens.authenticate("alice", Secret("alice-password-1")).username == "alice"


def test_a_refused_exchange_is_a_failed_login_of_the_client(dockit: Dockit) -> None:
    for wrong in ("word:wrong-1", "word:wrong-2"):
        with pytest.raises(AuthenticationFailed):
            ask(dockit, wrong)
    event = last_token_event(dockit)
    assert (event["actor"], event["outcome"]) == ("user:alice", "refused (401)")
    with pytest.raises(TooManyAttempts):
        ask(dockit, "word:pat")


def test_other_passwords_are_not_the_exchanges(dockit: Dockit, exchange: WordExchange) -> None:
    outcome = ask(dockit, "alice-password-1", "repository:alice/app:push")
    assert claims(dockit, outcome)["access"][0]["actions"] == ["push"]
    assert exchange.services == []
