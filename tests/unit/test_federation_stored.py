"""Trust policies from the store: every assembled instance sees a policy added, changed or
deleted through another on its next federated login, keeps its issuers' keys across such
reloads, and rereads a store that cannot tell its version after a while."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from libdockit import Options, assemble
from libdockit.assembly import Dockit
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.backends.sql.backend import SqlBackend
from libdockit.errors import AuthenticationFailed
from libdockit.federation import (
    ClaimCondition,
    FederationOptions,
    GrantTemplate,
    StoredFederation,
    TrustPolicy,
)
from libdockit.keys.ring import ensure_active_key
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.token_request import TokenRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://ci.example.test"
KEY = ec.generate_private_key(ec.SECP256R1())
SERVICE = "registry.test"


class Issuer:
    def __init__(self) -> None:
        self.fetches: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.fetches.append(url)
        if url.endswith("/.well-known/openid-configuration"):
            return json.dumps({"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"}).encode()
        jwk = ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
        return json.dumps({"keys": [{**jwk, "kid": "k1"}]}).encode()


def oidc_token(**claims: Any) -> str:
    body = {
        "iss": ISSUER,
        "aud": "dockit",
        "sub": "repo:acme/app",
        "repository": "acme/app",
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        **claims,
    }
    return jwt.encode(body, KEY, algorithm="ES256", headers={"kid": "k1"})


POLICY = TrustPolicy(
    name="ci",
    issuer=ISSUER,
    audiences=["dockit"],
    conditions=[ClaimCondition("repository", "acme/*")],
    grants=[GrantTemplate("ci/${claim.repository}", ["push"])],
)


def actions(dockit: Dockit, username: str, password: str, scope: str) -> list[str]:
    outcome = dockit.tokens.handle(
        TokenRequest(service=SERVICE, scopes=[scope], username=username, password=Secret(password))
    )
    return list(outcome.decision.scopes[0].granted)


def instance(store: MemoryBackend | SqlBackend, issuer: Issuer) -> Dockit:
    options = Options(
        services=[SERVICE],
        clock=lambda: NOW,
        audit=None,
        federation=FederationOptions(fetch=issuer.fetch),
    )
    return assemble(store, options)


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'dockit.db'}"
    with SqlBackend(url) as setup:
        setup.migrate()
        setup.create_user("alice", PasswordHasher().hash(Secret("alice-password-1")))
        ensure_active_key(setup, now=NOW)
    return url


def test_another_instance_sees_each_change_on_its_next_login(sqlite_file: str) -> None:
    issuer = Issuer()
    with SqlBackend(sqlite_file) as admin_side, SqlBackend(sqlite_file) as token_side:
        dockit = instance(token_side, issuer)
        # No policy yet: the name is nobody's, so the token is checked as a password.
        with pytest.raises(AuthenticationFailed, match="invalid username or password"):
            actions(dockit, "ci", oidc_token(), "repository:ci/acme/app:push")

        admin_side.add_trust_policy(POLICY)
        assert actions(dockit, "ci", oidc_token(), "repository:ci/acme/app:push") == ["push"]

        admin_side.replace_trust_policy(
            replace(POLICY, conditions=(ClaimCondition("repository", "other/*"),))
        )
        with pytest.raises(AuthenticationFailed, match="claim condition not met"):
            actions(dockit, "ci", oidc_token(), "repository:ci/acme/app:push")

        admin_side.delete_trust_policy("ci")
        with pytest.raises(AuthenticationFailed, match="invalid username or password"):
            actions(dockit, "ci", oidc_token(), "repository:ci/acme/app:push")


def test_reloads_keep_the_issuers_keys(sqlite_file: str) -> None:
    issuer = Issuer()
    with SqlBackend(sqlite_file) as store:
        store.add_trust_policy(POLICY)
        dockit = instance(store, issuer)
        assert actions(dockit, "ci", oidc_token(), "repository:ci/acme/app:push") == ["push"]
        store.create_user("bob", "h")  # any policy write moves the version
        store.add_trust_policy(replace(POLICY, name="ci2"))
        assert actions(dockit, "ci2", oidc_token(), "repository:ci/acme/app:push") == ["push"]
        assert actions(dockit, "ci", oidc_token(), "repository:ci/acme/app:push") == ["push"]
        assert len(issuer.fetches) == 2  # discovery and JWKS, once


def test_password_logins_read_no_policies() -> None:
    class Counting(MemoryBackend):
        reads = 0

        def trust_policy_version(self) -> int | None:
            Counting.reads += 1
            return super().trust_policy_version()

    store = Counting()
    store.create_user("alice", PasswordHasher().hash(Secret("alice-password-1")))
    ensure_active_key(store, now=NOW)
    dockit = instance(store, Issuer())
    assert actions(dockit, "alice", "alice-password-1", "repository:x/y:pull") == []
    assert Counting.reads == 0


class Unversioned(MemoryBackend):
    def trust_policy_version(self) -> int | None:
        return None


def test_a_store_without_a_version_is_reread_after_a_while() -> None:
    store = Unversioned()
    seconds = [0.0]
    federation = StoredFederation(
        store, FederationOptions(reload_seconds=5.0), monotonic=lambda: seconds[0]
    )
    assert federation.current().policy("ci") is None
    store.add_trust_policy(POLICY)
    seconds[0] = 4.9
    assert federation.current().policy("ci") is None
    seconds[0] = 5.0
    assert federation.current().policy("ci") == POLICY


def test_every_page_of_policies_is_read() -> None:
    store = MemoryBackend()
    for index in range(1203):
        store.add_trust_policy(replace(POLICY, name=f"p{index:04d}"))
    assert len(StoredFederation(store).current().policies) == 1203


def test_federation_can_be_turned_off() -> None:
    store = MemoryBackend()
    store.add_trust_policy(POLICY)
    ensure_active_key(store, now=NOW)
    dockit = assemble(store, Options(services=[SERVICE], clock=lambda: NOW, federation=None))
    assert dockit.federation is None
    with pytest.raises(AuthenticationFailed, match="invalid username or password"):
        actions(dockit, "ci", oidc_token(), "repository:ci/acme/app:push")
