"""The federation exchange through the whole token path (libdockit.assemble on the memory
store): a policy name and an OIDC token log in with the policy's filled-in grants, anything
else goes on to the password check, refusals and uses are audited under the policy, and an
issuer that cannot be reached affects its own policies only.

Issuers here are in memory (discovery and JWKS answered by the test); the independent
issuer on loopback is in tests/e2e/test_federation_registry.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from libdockit import Options, assemble
from libdockit.assembly import Dockit
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import AuthenticationFailed, BackendUnavailable, PermissionDenied
from libdockit.federation import (
    ClaimCondition,
    Federation,
    FederationExchange,
    GrantTemplate,
    TrustPolicy,
)
from libdockit.keys.ring import ensure_active_key
from libdockit.model import Grant
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.token_request import POST, TokenOutcome, TokenRequest
from tests.support.verifier import verify_token

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ISSUER, SERVICE = "dockit-test", "registry.test"
GITHUB, GITLAB = "https://github.example.test", "https://gitlab.example.test"
KEYS = {
    GITHUB: ec.generate_private_key(ec.SECP256R1()),
    GITLAB: ec.generate_private_key(ec.SECP256R1()),
}


class Issuers:
    """Discovery and JWKS of both issuers from memory; either can go down."""

    def __init__(self) -> None:
        self.down: set[str] = set()

    def fetch(self, url: str) -> bytes:
        issuer = next(i for i in KEYS if url.startswith(i))
        if issuer in self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        if url.endswith("/.well-known/openid-configuration"):
            return json.dumps({"issuer": issuer, "jwks_uri": f"{issuer}/jwks"}).encode()
        jwk = ECAlgorithm.to_jwk(KEYS[issuer].public_key(), as_dict=True)
        return json.dumps({"keys": [{**jwk, "kid": "k1"}]}).encode()


def oidc_token(issuer: str = GITHUB, **claims: Any) -> str:
    body = {
        "iss": issuer,
        "aud": "dockit",
        "sub": "repo:acme/app:ref:refs/heads/main",
        "repository": "acme/app",
        "jti": "run-1",
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        **claims,
    }
    return jwt.encode(body, KEYS[issuer], algorithm="ES256", headers={"kid": "k1"})


POLICIES = [
    TrustPolicy(
        name="acme-main",
        issuer=GITHUB,
        audiences=["dockit"],
        conditions=[ClaimCondition("sub", "repo:acme/*:ref:refs/heads/main")],
        grants=[GrantTemplate("ci/${claim.repository}/**", ["push"])],
        max_token_lifetime_seconds=120,
    ),
    TrustPolicy(
        name="gitlab",
        issuer=GITLAB,
        audiences=["dockit"],
        grants=[GrantTemplate("gl/${claim.repository}", ["pull"])],
        max_token_lifetime_seconds=3600,
    ),
]


@pytest.fixture
def issuers() -> Issuers:
    return Issuers()


@pytest.fixture
def dockit(issuers: Issuers) -> Iterator[Dockit]:
    store = MemoryBackend()
    store.create_user("alice", PasswordHasher().hash(Secret("alice-password-1")))
    store.create_user("acme-main", PasswordHasher().hash(Secret("user-password-1")))
    store.add_grant(Grant("user:alice", "repository", "alice/**", ("push",)))
    store.add_grant(Grant("authenticated", "repository", "shared/*", ("pull",)))
    ensure_active_key(store, now=NOW)
    federation = Federation(POLICIES, fetch=issuers.fetch, clock=lambda: NOW)
    options = Options(issuer=ISSUER, services=[SERVICE], token_lifetime=300, clock=lambda: NOW)
    built = assemble(store, options, exchanges=[FederationExchange(federation, max_lifetime=300)])
    yield built
    if built.auditor is not None:
        built.auditor.close()


def ask(dockit: Dockit, username: str, password: str, *scopes: str, **fields: Any) -> TokenOutcome:
    request = TokenRequest(
        service=SERVICE,
        scopes=list(scopes),
        username=username,
        password=Secret(password),
        client_address="192.0.2.9",
        **fields,
    )
    return dockit.tokens.handle(request)


def claims(dockit: Dockit, outcome: TokenOutcome) -> dict[str, Any]:
    bundle = dockit.keys.bundle_pem()
    return verify_token(
        outcome.token.token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE, now=NOW
    )


def token_events(dockit: Dockit) -> list[dict[str, Any]]:
    assert dockit.auditor is not None
    dockit.auditor.flush()
    events = dockit.store.query_events(kind="token").items
    return [{"actor": e.actor, "action": e.action, **(e.detail or {})} for e in events]


def test_a_matching_token_gets_the_filled_in_grants_only(dockit: Dockit) -> None:
    outcome = ask(
        dockit,
        "acme-main",
        oidc_token(),
        "repository:ci/acme/app/web:pull,push",
        "repository:ci/other/app:push",
        "repository:shared/base:pull",
        "repository:alice/app:pull",
    )
    token = claims(dockit, outcome)
    assert [entry["actions"] for entry in token["access"]] == [["pull", "push"], [], [], []]
    assert token["sub"] == "federation:acme-main"
    assert token["exp"] - token["iat"] == 120
    assert outcome.identity is not None
    assert (outcome.identity.username, outcome.identity.source) == ("acme-main", "federation")


def test_the_services_lifetime_caps_the_policys(dockit: Dockit) -> None:
    token = claims(dockit, ask(dockit, "gitlab", oidc_token(GITLAB), "repository:gl/acme/app:pull"))
    assert token["access"][0]["actions"] == ["pull"]
    assert token["exp"] - token["iat"] == 300


def test_the_policy_name_is_a_user_name_in_any_case(dockit: Dockit) -> None:
    outcome = ask(dockit, "ACME-Main", oidc_token(), "repository:ci/acme/app/web:pull,push")
    assert claims(dockit, outcome)["access"][0]["actions"] == ["pull", "push"]


def test_each_use_is_audited_with_issuer_sub_and_jti_replays_included(dockit: Dockit) -> None:
    token = oidc_token()
    for _ in range(2):  # the same token again, as docker sends it for every push
        ask(dockit, "acme-main", token, "repository:ci/acme/app/web:pull,push")
    events = token_events(dockit)
    assert len(events) == 2
    for event in events:
        assert (event["actor"], event["outcome"]) == ("federation:acme-main", "issued")
        assert event["credential"] == {
            "kind": "federation",
            "id": "federation:acme-main",
            "issuer": GITHUB,
            "sub": "repo:acme/app:ref:refs/heads/main",
            "jti": "run-1",
        }


def test_other_names_and_passwords_go_on_to_the_password_check(dockit: Dockit) -> None:
    # A JWT for a name that is no policy's: checked (and refused) as alice's password.
    with pytest.raises(AuthenticationFailed, match="invalid username or password"):
        ask(dockit, "alice", oidc_token())
    # A policy's name with a password: the user of that name logs in as ever.
    outcome = ask(dockit, "acme-main", "user-password-1", "repository:shared/base:pull")
    assert claims(dockit, outcome)["sub"] == "acme-main"
    assert outcome.identity is not None
    assert outcome.identity.source == "local"


def test_a_refused_token_is_audited_under_the_policy(dockit: Dockit) -> None:
    with pytest.raises(AuthenticationFailed, match=r"claim condition not met: sub ~"):
        ask(dockit, "acme-main", oidc_token(sub="repo:acme/app:ref:refs/heads/dev", jti="r-2"))
    with pytest.raises(AuthenticationFailed, match="aud names none"):
        ask(dockit, "acme-main", oidc_token(aud="someone-else"))
    unsigned, unmet = token_events(dockit)  # newest first
    assert (unmet["actor"], unmet["outcome"]) == ("federation:acme-main", "refused (401)")
    assert unmet["credential"] == {
        "kind": "federation",
        "id": "federation:acme-main",
        "issuer": GITHUB,
        "sub": "repo:acme/app:ref:refs/heads/dev",
        "jti": "r-2",
    }
    # Nothing of an unverified token is taken for true: only the policy's issuer.
    assert unsigned["credential"] == {
        "kind": "federation",
        "id": "federation:acme-main",
        "issuer": GITHUB,
    }


def test_an_unreachable_issuer_affects_its_own_tokens_only(
    dockit: Dockit, issuers: Issuers
) -> None:
    issuers.down.add(GITHUB)
    with pytest.raises(BackendUnavailable, match=GITHUB):
        ask(dockit, "acme-main", oidc_token(), "repository:ci/acme/app/web:pull,push")
    [unavailable] = token_events(dockit)
    assert (unavailable["actor"], unavailable["outcome"]) == (
        "federation:acme-main",
        "refused (503)",
    )
    assert unavailable["credential"] == {
        "kind": "federation",
        "id": "federation:acme-main",
        "issuer": GITHUB,
    }
    other = ask(dockit, "gitlab", oidc_token(GITLAB), "repository:gl/acme/app:pull")
    assert claims(dockit, other)["access"][0]["actions"] == ["pull"]
    password = ask(dockit, "alice", "alice-password-1", "repository:alice/app:push")
    assert claims(dockit, password)["access"][0]["actions"] == ["push"]
    issuers.down.clear()
    assert ask(dockit, "acme-main", oidc_token(), "repository:ci/acme/app/web:pull,push").token


def test_cached_keys_outlive_an_issuer_outage(dockit: Dockit, issuers: Issuers) -> None:
    ask(dockit, "acme-main", oidc_token())
    issuers.down.add(GITHUB)
    outcome = ask(
        dockit, "acme-main", oidc_token(jti="run-2"), "repository:ci/acme/app/web:pull,push"
    )
    assert claims(dockit, outcome)["access"][0]["actions"] == ["pull", "push"]


def test_no_refresh_token_for_a_federated_login(dockit: Dockit) -> None:
    assert (
        ask(dockit, "acme-main", oidc_token(), offline=True, client_id="docker").refresh_token
        is None
    )
    post = TokenRequest(
        method=POST,
        grant_type="password",
        service=SERVICE,
        client_id="docker",
        username="acme-main",
        password=Secret(oidc_token()),
        offline=True,
        scopes=["repository:ci/acme/app/web:pull,push"],
    )
    outcome = dockit.tokens.handle(post)
    assert outcome.refresh_token is None
    assert claims(dockit, outcome)["access"][0]["actions"] == ["pull", "push"]


def test_the_admin_api_refuses_a_federated_login(dockit: Dockit) -> None:
    with pytest.raises(PermissionDenied, match="federated"):
        dockit.tokens.authenticate("acme-main", Secret(oidc_token()))
