"""Fixtures for the /v2/token tests with refresh tokens: the real app over the memory
backend, with a clock the refresh tokens read (for expiry), an audit log, and a middleware
that records what each request left in ``req.context``. ``client`` here replaces the
parent conftest's for these tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import falcon.testing
import pytest

from dockit_server.app import create_app
from dockit_server.components import Components
from libdockit.admin import AdminService
from libdockit.audit import Auditor
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.credential_admin import CredentialAdmin
from libdockit.keys.manager import KeyManager
from libdockit.keys.ring import KeyRing, ensure_active_key
from libdockit.model import Grant
from libdockit.passwords import PasswordHasher
from libdockit.refresh import LocalIdentityResolver, RefreshTokens
from libdockit.service import TokenService
from libdockit.tokens import TokenSigner
from tests.server.conftest import ADMIN, USER, Hashes
from tests.server.token.flow import ISSUER, OTHER, SERVICE, Clock, ContextRecorder


@pytest.fixture
def store(hashes: Hashes) -> MemoryBackend:
    store = MemoryBackend()
    store.create_user(ADMIN, hashes.admin, is_admin=True)
    store.create_user(USER, hashes.user)
    store.create_user("bob", hashes.user)
    store.add_grant(Grant(f"user:{USER}", "repository", f"{USER}/*", ("push",)))
    ensure_active_key(store, now=datetime.now(UTC))
    return store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder() -> ContextRecorder:
    return ContextRecorder()


@pytest.fixture
def client(
    store: MemoryBackend, hasher: PasswordHasher, clock: Clock, recorder: ContextRecorder
) -> falcon.testing.TestClient:
    audit = Auditor(store)
    tokens = TokenService(
        authenticator=LocalAuthenticator(store, hasher),
        grants=store,
        keys=KeyRing(store),
        signer=TokenSigner(ISSUER),
        services=[SERVICE, OTHER],
        groups=store,
        refresh_tokens=RefreshTokens(
            store, LocalIdentityResolver(store), lifetime=timedelta(days=30), clock=clock
        ),
        audit=audit,
    )
    components = Components(
        tokens=tokens,
        admin=AdminService(store, store, hasher, audit=audit),
        health=store,
        key_manager=KeyManager(store, audit=audit),
        credentials=CredentialAdmin(store, audit=audit),
        audit=audit,
    )
    app = create_app(components)
    app.add_middleware(recorder)
    return falcon.testing.TestClient(app)
