"""The relying party's checks on an external OIDC token, with keys made in the test.

These cover the verifier's own checks; the issue's acceptance tests run a real,
independent issuer instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from libdockit.errors import AuthenticationFailed
from libdockit.federation import FederatedTokenVerifier, GrantTemplate, StaticKeys, TrustPolicy

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://token.actions.example.test"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str, alg: str) -> Any:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


JWKS = {"keys": [_jwk(RSA_KEY, "rsa-1", "RS256"), _jwk(EC_KEY, "ec-1", "ES256")]}
POLICY = TrustPolicy(
    name="github", issuer=ISSUER, audiences=["dockit"], grants=[GrantTemplate("ci/**", ["pull"])]
)


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "dockit",
        "sub": "repo:acme/app:ref:refs/heads/main",
        "repository": "acme/app",
        "jti": "job-1",
        "iat": int(NOW.timestamp()),
        "nbf": int(NOW.timestamp()) - 5,
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _sign(claims: dict[str, Any], *, kid: str = "rsa-1", alg: str = "RS256") -> str:
    key = RSA_KEY if alg.startswith(("RS", "PS")) else EC_KEY
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def _verifier(
    policy: TrustPolicy = POLICY, clock: Callable[[], datetime] = lambda: NOW
) -> FederatedTokenVerifier:
    return FederatedTokenVerifier(policy, StaticKeys(JWKS), clock=clock)


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _refusal(token: str, policy: TrustPolicy = POLICY, at: datetime = NOW) -> str:
    with pytest.raises(AuthenticationFailed) as caught:
        _verifier(policy, lambda: at).verify(token)
    return caught.value.message


@pytest.mark.parametrize(("kid", "alg"), [("rsa-1", "RS256"), ("ec-1", "ES256")])
def test_a_good_token_gives_its_claims_and_audit_fields(kid: str, alg: str) -> None:
    verified = _verifier().verify(_sign(_claims(), kid=kid, alg=alg))
    assert verified.claims["repository"] == "acme/app"
    assert (verified.policy, verified.issuer, verified.kid) == ("github", ISSUER, kid)
    assert (verified.subject, verified.jti) == ("repo:acme/app:ref:refs/heads/main", "job-1")
    assert verified.expires_at == NOW + timedelta(minutes=5)


def test_an_audience_list_needs_one_accepted_name() -> None:
    assert _verifier().verify(_sign(_claims(aud=["other", "dockit"]))).subject
    assert "aud" in _refusal(_sign(_claims(aud=["other", "sts.amazonaws.com"])))


def test_wrong_audience_is_refused() -> None:
    assert "aud" in _refusal(_sign(_claims(aud="https://github.com/acme")))


def test_wrong_issuer_is_refused() -> None:
    assert "iss" in _refusal(_sign(_claims(iss="https://evil.example.test")))


def test_issuer_must_match_exactly() -> None:
    assert "iss" in _refusal(_sign(_claims(iss=ISSUER + "/")))


@pytest.mark.parametrize("missing", ["exp", "aud", "iss"])
def test_a_required_claim_missing_is_refused(missing: str) -> None:
    assert repr(missing) in _refusal(_sign(_claims(**{missing: None})))


def test_expired_is_refused_after_the_leeway_only() -> None:
    token = _sign(_claims())
    expiry = NOW + timedelta(minutes=5)
    assert _verifier(clock=lambda: expiry + timedelta(seconds=59)).verify(token)
    assert "expired" in _refusal(token, at=expiry + timedelta(seconds=60))


def test_zero_leeway_refuses_at_exp() -> None:
    strict = replace(POLICY, leeway_seconds=0)
    assert "expired" in _refusal(_sign(_claims()), strict, at=NOW + timedelta(minutes=5))


def test_not_yet_valid_is_refused_beyond_the_leeway() -> None:
    later = int((NOW + timedelta(seconds=61)).timestamp())
    assert "nbf" in _refusal(_sign(_claims(nbf=later)))
    assert _verifier().verify(_sign(_claims(nbf=later - 2))).subject


def test_alg_none_is_refused() -> None:
    header = _b64(json.dumps({"alg": "none", "kid": "rsa-1"}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    assert "'none'" in _refusal(f"{header}.{payload}.")


def test_hs256_signed_with_the_issuers_public_key_is_refused() -> None:
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert "'HS256'" in _refusal(f"{header}.{payload}.{_b64(mac)}")


def test_an_algorithm_outside_the_policy_is_refused() -> None:
    rsa_only = replace(POLICY, algorithms=["RS256"])
    assert "'ES256'" in _refusal(_sign(_claims(), kid="ec-1", alg="ES256"), rsa_only)


def test_unknown_kid_is_refused() -> None:
    assert "kid" in _refusal(_sign(_claims(), kid="rotated-away"))


def test_a_key_of_another_type_is_refused() -> None:
    # ES256 header pointing at the RSA key: never try an EC signature against it.
    token = _sign(_claims(), kid="rsa-1", alg="ES256")
    assert "cannot check ES256" in _refusal(token)


def test_a_key_whose_jwk_names_another_algorithm_is_refused() -> None:
    policy = replace(POLICY, algorithms=["PS256"])
    assert "is for RS256" in _refusal(_sign(_claims(), alg="PS256"), policy)


def test_a_bad_signature_is_refused() -> None:
    header, _payload, signature = _sign(_claims()).split(".")
    forged = _b64(json.dumps(_claims(repository="acme/other")).encode())
    assert "signature" in _refusal(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("password", ["", "hunter2", "a.b.c", "x" * 40])
def test_a_password_that_is_no_jwt_is_refused_without_echoing_it(password: str) -> None:
    message = _refusal(password)
    assert "refused" in message
    if password:
        assert password not in message


def test_exp_that_is_not_a_number_is_refused() -> None:
    assert "exp" in _refusal(_sign(_claims(exp="tomorrow")))
