"""The federation verifier against a real, independent OIDC issuer on loopback.

The issuer (oauth2-mock-server from npm, see tests/support/oidc_issuer.py) serves discovery
and its JWKS over HTTP and signs GitHub-, GitLab- and Kubernetes-shaped tokens; Dockit
fetches its keys as it would in production. Library level: the token endpoint, docker
login, skopeo and dockerd are in test_federation_registry.py and engines/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from libdockit.errors import AuthenticationFailed, BackendUnavailable
from libdockit.federation import (
    ClaimCondition,
    FederatedTokenVerifier,
    GrantTemplate,
    RemoteKeys,
    StaticKeys,
    TrustPolicy,
    match_policy,
)
from tests.support.oidc_issuer import (
    OidcIssuer,
    hs256_with_public_key,
    installed_issuer,
    unsigned,
    with_kid,
)

AUDIENCE = "https://registry.example.test"

GITHUB = {
    "aud": AUDIENCE,
    "sub": "repo:acme/app:ref:refs/heads/main",
    "repository": "acme/app",
    "repository_owner": "acme",
    "ref": "refs/heads/main",
    "workflow": "release",
    "jti": "gh-run-1",
}
GITLAB = {
    "aud": AUDIENCE,
    "sub": "project_path:acme/app:ref_type:branch:ref:main",
    "project_path": "acme/app",
    "namespace_path": "acme",
    "ref": "main",
    "ref_type": "branch",
    "jti": "gl-job-1",
}
KUBERNETES = {
    "aud": [AUDIENCE],
    "sub": "system:serviceaccount:ci:builder",
    "kubernetes.io": {"namespace": "ci", "serviceaccount": {"name": "builder", "uid": "u-1"}},
    "jti": "k8s-1",
}


@pytest.fixture(scope="module")
def issuer_dir() -> Path:
    return installed_issuer()


def _start(issuer_dir: Path, tmp: Path) -> OidcIssuer:
    return OidcIssuer(issuer_dir, tmp / "issuer.log")


@pytest.fixture(scope="module")
def issuer(issuer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcIssuer]:
    running = _start(issuer_dir, tmp_path_factory.mktemp("oidc"))
    try:
        yield running
    finally:
        running.stop()


#: What the policies here give (verification does not look at it).
GRANTS = [GrantTemplate("ci/**", ["pull"])]


def _verifier(issuer: OidcIssuer, **keys: Any) -> FederatedTokenVerifier:
    policy = TrustPolicy(name="ci", issuer=issuer.url, audiences=[AUDIENCE], grants=GRANTS)
    return FederatedTokenVerifier(policy, RemoteKeys(issuer.url, **keys))


def _refused(verifier: FederatedTokenVerifier, token: str) -> str:
    with pytest.raises(AuthenticationFailed) as caught:
        verifier.verify(token)
    return caught.value.message


@pytest.mark.parametrize("claims", [GITHUB, GITLAB, KUBERNETES], ids=["github", "gitlab", "k8s"])
def test_shaped_tokens_verify_with_keys_from_discovery(
    issuer: OidcIssuer, claims: dict[str, Any]
) -> None:
    verified = _verifier(issuer).verify(issuer.mint(claims))
    assert verified.issuer == issuer.url
    assert (verified.subject, verified.jti) == (claims["sub"], claims["jti"])
    assert {k: verified.claims[k] for k in claims} == claims


def test_a_static_jwks_of_the_issuer_verifies_without_fetching(issuer: OidcIssuer) -> None:
    policy = TrustPolicy(
        name="ci",
        issuer=issuer.url,
        audiences=[AUDIENCE],
        static_jwks=issuer.jwks(),
        grants=GRANTS,
    )
    assert policy.static_jwks is not None
    verifier = FederatedTokenVerifier(policy, StaticKeys(policy.static_jwks))
    assert verifier.verify(issuer.mint(GITHUB)).subject == GITHUB["sub"]


def test_wrong_audience_is_refused(issuer: OidcIssuer) -> None:
    token = issuer.mint({**GITHUB, "aud": "sts.amazonaws.com"})
    assert "aud" in _refused(_verifier(issuer), token)


def test_wrong_issuer_is_refused(issuer: OidcIssuer) -> None:
    token = issuer.mint({**GITHUB, "iss": "https://token.actions.githubusercontent.com"})
    assert "iss" in _refused(_verifier(issuer), token)


def test_expired_is_refused(issuer: OidcIssuer) -> None:
    token = issuer.mint({**GITHUB, "nbf": 0, "iat": 0}, expires_in=-120)
    assert "expired" in _refused(_verifier(issuer), token)


def test_alg_none_is_refused(issuer: OidcIssuer) -> None:
    assert "'none'" in _refused(_verifier(issuer), unsigned(issuer.mint(GITHUB)))


def test_unknown_kid_is_refused(issuer: OidcIssuer) -> None:
    token = with_kid(issuer.mint(GITHUB), "no-such-key")
    assert "kid" in _refused(_verifier(issuer), token)


def test_hs256_signed_with_the_issuers_public_key_is_refused(issuer: OidcIssuer) -> None:
    forged = hs256_with_public_key(issuer, issuer.mint(GITHUB))
    assert "'HS256'" in _refused(_verifier(issuer), forged)


def test_a_key_rotation_at_the_issuer_is_picked_up(issuer: OidcIssuer) -> None:
    verifier = _verifier(issuer, min_refetch_interval=timedelta(0))
    assert verifier.verify(issuer.mint(GITHUB)).kid is not None
    new_kid = issuer.rotate("ES256")
    rotated = verifier.verify(issuer.mint(GITLAB, kid=new_kid))
    assert (rotated.kid, rotated.subject) == (new_kid, GITLAB["sub"])


def test_an_issuer_going_away_affects_only_its_own_tokens(
    issuer: OidcIssuer, issuer_dir: Path, tmp_path: Path
) -> None:
    leaving = _start(issuer_dir, tmp_path)
    try:
        cached = _verifier(leaving)
        token = leaving.mint(KUBERNETES)
        assert cached.verify(token).subject == KUBERNETES["sub"]
    finally:
        leaving.stop()
    assert cached.verify(token).subject == KUBERNETES["sub"]  # its cached keys still work
    with pytest.raises(BackendUnavailable, match="cannot be fetched"):
        _verifier(leaving).verify(token)  # never fetched: cannot tell, 503
    assert _verifier(issuer).verify(issuer.mint(GITHUB)).subject == GITHUB["sub"]


def test_claims_from_the_issuer_fill_grants_or_fail_conditions(issuer: OidcIssuer) -> None:
    policy = TrustPolicy(
        name="k8s-ci",
        issuer=issuer.url,
        audiences=[AUDIENCE],
        conditions=[ClaimCondition("kubernetes.io/namespace", "ci")],
        grants=[GrantTemplate("k8s/${claim.kubernetes.io/serviceaccount/name}/**", ["push"])],
    )
    verifier = FederatedTokenVerifier(policy, RemoteKeys(issuer.url))
    matched = match_policy(policy, verifier.verify(issuer.mint(KUBERNETES)).claims)
    assert [g.pattern for g in matched.grants] == ["k8s/builder/**"]
    other_namespace = {**KUBERNETES, "kubernetes.io": {"namespace": "prod"}}
    refused = match_policy(policy, verifier.verify(issuer.mint(other_namespace)).claims)
    assert not refused.matched
    assert refused.grants == ()
