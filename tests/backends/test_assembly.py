"""libdockit.assemble on every store: the memory backend, SQLite and a real PostgreSQL give
the same working Dockit (log in, issue, change through the admin service, audit, rotate)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from libdockit import Actor, Options, assemble
from libdockit.backends.base import Store
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.backends.sql.backend import SqlBackend
from libdockit.errors import AuthenticationFailed, TooManyAttempts
from libdockit.keys.ring import ensure_active_key
from libdockit.secret import Secret
from libdockit.throttle import Attempt, ThrottlePolicy
from libdockit.token_request import TokenRequest
from tests.support.postgres import PostgresServer
from tests.support.verifier import verify_token

SERVICE = "registry.test"
PASSWORD = "carol-password-1"
APP = Actor.system("my-app")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'dockit.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.url_for(server.create_database())
    backend = SqlBackend(url)
    backend.migrate()
    try:
        yield backend
    finally:
        backend.close()


def test_an_assembled_dockit_issues_tokens_and_audits(store: Store) -> None:
    ensure_active_key(store, now=datetime.now(UTC))
    options = Options(issuer="dockit-test", services=[SERVICE], password_cache_seconds=0)
    dockit = assemble(store, options)
    assert isinstance(store, Store)

    dockit.admin.create_user("carol", Secret(PASSWORD), actor=APP)
    dockit.admin.add_grant("user:carol", "repository", "carol/*", ["pull", "push"], actor=APP)
    outcome = dockit.tokens.handle(
        TokenRequest(
            service=SERVICE,
            scopes=["repository:carol/app:push"],
            username="carol",
            password=Secret(PASSWORD),
        )
    )
    claims = verify_token(
        outcome.token.token,
        bundle_pem=dockit.keys.bundle_pem(),
        issuer="dockit-test",
        service=SERVICE,
    )
    assert claims["access"] == [{"type": "repository", "name": "carol/app", "actions": ["push"]}]
    with pytest.raises(AuthenticationFailed):
        dockit.tokens.authenticate("carol", Secret("not-her-password"))

    assert dockit.auditor is not None
    dockit.auditor.flush()
    assert store.list_users().total == 1
    [decision] = store.query_events(kind="token").items  # the token service records its own
    assert (decision.actor, decision.action, decision.target) == (
        "user:carol",
        "token.issue",
        SERVICE,
    )
    changes = dockit.auditor.query(kind="admin").items  # the admin service records its own
    assert [(e.actor, e.action, e.target) for e in reversed(changes)] == [
        ("system:my-app", "user.create", "user:carol"),
        ("system:my-app", "grant.create", f"grant:{store.list_grants().items[0].id}"),
    ]


def test_options_reach_their_parts(store: Store) -> None:
    """The throttle policy, the refresh-token switch and the audit switch are honoured."""
    ensure_active_key(store, now=datetime.now(UTC))
    options = Options(
        throttle=ThrottlePolicy(max_failures=1),
        refresh_tokens=False,
        audit=None,
        password_cache_seconds=0,
    )
    dockit = assemble(store, options)
    dockit.admin.create_user("carol", Secret(PASSWORD), actor=APP)
    here = Attempt("192.0.2.7")
    with pytest.raises(AuthenticationFailed):
        dockit.tokens.authenticate("carol", Secret("wrong-1"), attempt=here)
    with pytest.raises(TooManyAttempts):
        dockit.tokens.authenticate("carol", Secret(PASSWORD), attempt=here)
    assert dockit.tokens.refresh_tokens is None
    assert dockit.auditor is None
