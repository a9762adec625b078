"""Federated logins: policies by name, one key cache per issuer, issuers isolated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from libdockit.errors import AuthenticationFailed, BackendUnavailable, ConfigError
from libdockit.federation import (
    ClaimCondition,
    Federation,
    GrantTemplate,
    TrustPolicy,
    looks_like_jwt,
)
from libdockit.secret import Secret

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GITHUB, GITLAB = "https://github.example.test", "https://gitlab.example.test"
KEYS = {
    GITHUB: ec.generate_private_key(ec.SECP256R1()),
    GITLAB: ec.generate_private_key(ec.SECP256R1()),
}


class Issuers:
    """Discovery and JWKS of both issuers from memory; either can go down."""

    def __init__(self) -> None:
        self.fetches: list[str] = []
        self.down: set[str] = set()

    def fetch(self, url: str) -> bytes:
        self.fetches.append(url)
        issuer = next(i for i in KEYS if url.startswith(i))
        if issuer in self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        if url.endswith("/.well-known/openid-configuration"):
            return json.dumps({"issuer": issuer, "jwks_uri": f"{issuer}/jwks"}).encode()
        jwk = ECAlgorithm.to_jwk(KEYS[issuer].public_key(), as_dict=True)
        return json.dumps({"keys": [{**jwk, "kid": "k1"}]}).encode()


def _token(issuer: str, **claims: Any) -> Secret:
    body = {
        "iss": issuer,
        "aud": "dockit",
        "sub": "repo:acme/app:ref:refs/heads/main",
        "repository": "acme/app",
        "jti": "run-1",
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        **claims,
    }
    return Secret(jwt.encode(body, KEYS[issuer], algorithm="ES256", headers={"kid": "k1"}))


def _policy(name: str, issuer: str, **fields: Any) -> TrustPolicy:
    fields.setdefault("grants", [GrantTemplate("shared/**", ["pull"])])
    return TrustPolicy(name=name, issuer=issuer, audiences=["dockit"], **fields)


POLICIES = [
    _policy(
        "acme-main",
        GITHUB,
        conditions=[ClaimCondition("sub", "repo:acme/*:ref:refs/heads/main")],
        grants=[GrantTemplate("ci/${claim.repository}/**", ["push"])],
        max_token_lifetime_seconds=120,
    ),
    _policy("acme-any", GITHUB),
    _policy("gitlab", GITLAB),
]


def _federation(issuers: Issuers) -> Federation:
    return Federation(POLICIES, fetch=issuers.fetch, clock=lambda: NOW)


def test_a_matching_token_logs_in_with_its_grants_and_lifetime() -> None:
    login = _federation(Issuers()).login("acme-main", _token(GITHUB))
    assert (login.token.policy, login.token.subject, login.token.jti) == (
        "acme-main",
        "repo:acme/app:ref:refs/heads/main",
        "run-1",
    )
    assert [g.pattern for g in login.match.grants] == ["ci/acme/app/**"]
    assert login.token_lifetime == 120


def test_a_claim_that_does_not_match_is_refused_with_the_condition() -> None:
    with pytest.raises(AuthenticationFailed, match=r"sub ~ repo:acme/\*") as caught:
        _federation(Issuers()).login("acme-main", _token(GITHUB, sub="repo:acme/app:ref:dev"))
    assert caught.value.detail == {
        "policy": "acme-main",
        "subject": "repo:acme/app:ref:dev",
        "jti": "run-1",
    }


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(AuthenticationFailed, match="no such trust policy"):
        _federation(Issuers()).login("nobody", _token(GITHUB))


def test_a_token_of_another_issuer_is_refused() -> None:
    with pytest.raises(AuthenticationFailed):
        _federation(Issuers()).login("gitlab", _token(GITHUB))


def test_policies_of_one_issuer_share_its_keys() -> None:
    issuers = Issuers()
    federation = _federation(issuers)
    federation.login("acme-main", _token(GITHUB))
    federation.login("acme-any", _token(GITHUB))
    assert [u for u in issuers.fetches if u.startswith(GITHUB)] == [
        f"{GITHUB}/.well-known/openid-configuration",
        f"{GITHUB}/jwks",
    ]


def test_an_unreachable_issuer_affects_only_its_own_policies() -> None:
    issuers = Issuers()
    issuers.down.add(GITLAB)
    federation = _federation(issuers)
    with pytest.raises(BackendUnavailable):
        federation.login("gitlab", _token(GITLAB))
    assert federation.login("acme-any", _token(GITHUB)).token.issuer == GITHUB


def test_a_static_jwks_policy_never_fetches() -> None:
    jwk = ECAlgorithm.to_jwk(KEYS[GITLAB].public_key(), as_dict=True)
    static = _policy("airgap", GITLAB, static_jwks={"keys": [{**jwk, "kid": "k1"}]})
    issuers = Issuers()
    federation = Federation([static], fetch=issuers.fetch, clock=lambda: NOW)
    assert federation.login("airgap", _token(GITLAB)).token.subject
    assert issuers.fetches == []


def test_two_policies_of_one_name_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="acme-any"):
        Federation([*POLICIES, _policy("acme-any", GITLAB)])


def test_looks_like_jwt() -> None:
    assert looks_like_jwt(_token(GITHUB).reveal())
    for password in ["", "hunter2", "a.b.c", "e30.e30.", "x" * 5000 + ".a.b", "...."]:
        assert not looks_like_jwt(password), password
