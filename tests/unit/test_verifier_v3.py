"""The registry 3.x verifier accepts what distribution 3.1 accepts and refuses the rest, and
Dockit's tokens pass it: by ``x5c`` with the bundle, by ``kid`` with its JWKS for a JWKS
audience.

Each rule is broken one at a time on tokens forged with pyjwt (not libdockit.tokens); the
measured facts about distribution 3.1.1 (bundle alone accepts Dockit's x5c tokens, JWKS
alone refuses them, both accept) are the first tests.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from libdockit.keys.bundle import bundle_certificates, bundle_pem
from libdockit.keys.material import SigningKey, generate_key, jwk_thumbprint, public_jwk
from libdockit.testing.pki import Issued, make_chain
from libdockit.tokens import TokenSigner
from tests.support.jwt_parts import jwt_header
from tests.support.verifier import verify_token
from tests.support.verifier_v3 import (
    JwksRejected,
    TokenRejected,
    go_jwk_thumbprint,
    trusted_keys,
    verify_token_v3,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
T = int(NOW.timestamp())
ISSUER = "dockit-test"
SERVICE = "registry3.test"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": SERVICE,
        "exp": T + 300,
        "nbf": T,
        "iat": T,
        "jti": "j1",
        "access": [{"type": "repository", "name": "alice/hello", "actions": ["pull"]}],
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _header(key: SigningKey, *, x5c: bool = True, **changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"typ": "JWT", "alg": key.algorithm, "kid": key.kid}
    if x5c:
        header["x5c"] = list(key.x5c)
    for name, value in changes.items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    return header


def forge(key: SigningKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = (
        _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    ).encode()
    signature = jwt.get_algorithm_by_name(key.algorithm).sign(signing_input, key.private_key)
    return signing_input.decode() + "." + _b64(signature)


def _jwks(*keys: SigningKey) -> dict[str, Any]:
    """What ``GET /v2/certs/jwks`` answers for these keys."""
    return {"keys": [public_jwk(key) for key in keys]}


def _verify(token: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("issuer", ISSUER)
    kwargs.setdefault("service", SERVICE)
    kwargs.setdefault("now", NOW)
    return verify_token_v3(token, **kwargs)


@pytest.fixture(scope="module", params=["ES256", "RS256"])
def key(request: pytest.FixtureRequest) -> SigningKey:
    return generate_key(request.param, now=NOW - timedelta(days=1))


@pytest.fixture(scope="module")
def chain_leaf() -> Issued:
    return make_chain(2, now=NOW - timedelta(days=1))


# -- what was measured with distribution 3.1.1 --------------------------------------------


def test_bundle_alone_accepts_an_x5c_token(key: SigningKey) -> None:
    token = forge(key, _header(key), _claims())
    assert _verify(token, bundle_pem=bundle_pem([key.certificate]))["sub"] == "alice"


def test_jwks_alone_refuses_an_x5c_token_even_with_its_kid_in_the_jwks(key: SigningKey) -> None:
    """x5c is checked first; its chain leads to no root the registry was given."""
    token = forge(key, _header(key), _claims())
    with pytest.raises(TokenRejected, match="bundle"):
        _verify(token, jwks=_jwks(key))


def test_bundle_and_jwks_accept_an_x5c_token(key: SigningKey) -> None:
    token = forge(key, _header(key), _claims())
    _verify(token, bundle_pem=bundle_pem([key.certificate]), jwks=_jwks(key))


# -- the JWKS path ------------------------------------------------------------------------


def test_jwks_alone_accepts_a_kid_token_without_x5c(key: SigningKey) -> None:
    token = forge(key, _header(key, x5c=False), _claims())
    assert _verify(token, jwks=_jwks(key))["aud"] == SERVICE


def test_an_unknown_kid_is_refused(key: SigningKey) -> None:
    other = generate_key(key.algorithm, now=NOW - timedelta(days=1))
    token = forge(key, _header(key, x5c=False), _claims())
    with pytest.raises(TokenRejected, match="untrusted key"):
        _verify(token, jwks=_jwks(other))


def test_the_jwks_key_under_the_kid_must_have_signed(key: SigningKey) -> None:
    other = generate_key(key.algorithm, now=NOW - timedelta(days=1))
    lying = dict(public_jwk(other), kid=key.kid)
    lying.pop("x5c")
    token = forge(key, _header(key, x5c=False), _claims())
    with pytest.raises(TokenRejected, match="signature"):
        _verify(token, jwks={"keys": [lying]})


def test_without_x5c_jwk_or_kid_nothing_is_trusted(key: SigningKey) -> None:
    token = forge(key, _header(key, x5c=False, kid=None), _claims())
    with pytest.raises(TokenRejected, match="no x5c, jwk or kid"):
        _verify(token, jwks=_jwks(key))


def test_an_embedded_jwk_is_trusted_only_by_its_kid(key: SigningKey) -> None:
    embedded = dict(public_jwk(key))
    embedded.pop("x5c")
    header = _header(key, x5c=False, kid=None, jwk=dict(embedded, kid="not-trusted"))
    with pytest.raises(TokenRejected, match="untrusted JWK"):
        _verify(forge(key, header, _claims()), jwks=_jwks(key))
    trusted = _header(key, x5c=False, kid=None, jwk=embedded)
    _verify(forge(key, trusted, _claims()), jwks=_jwks(key))


def test_root_certificates_are_trusted_by_their_thumbprint(key: SigningKey) -> None:
    """With the bundle alone, a token without x5c is found by the key's thumbprint."""
    bundle = bundle_pem([key.certificate])
    by_thumbprint = _header(key, x5c=False, kid=go_jwk_thumbprint(key.certificate.public_key()))
    _verify(forge(key, by_thumbprint, _claims()), bundle_pem=bundle)
    with pytest.raises(TokenRejected, match="untrusted key"):
        _verify(forge(key, _header(key, x5c=False), _claims()), bundle_pem=bundle)


def test_go_thumbprint_drops_leading_zero_bytes() -> None:
    """RFC 7638 encodes a P-256 coordinate in 32 bytes; 3.x (big.Int.Bytes) drops leading
    zeros, so about one EC key in 128 gets another ID there than RFC 7638 gives."""
    found = None
    for scalar in range(2, 5000):
        public = ec.derive_private_key(scalar, ec.SECP256R1()).public_key()
        point = public.public_numbers()
        if point.x < 2**248 or point.y < 2**248:
            found = public
            break
    assert found is not None
    assert go_jwk_thumbprint(found) != jwk_thumbprint(found)
    regular = ec.derive_private_key(1, ec.SECP256R1()).public_key()
    assert regular.public_numbers().x >= 2**248
    assert regular.public_numbers().y >= 2**248
    assert go_jwk_thumbprint(regular) == jwk_thumbprint(regular)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    assert go_jwk_thumbprint(rsa_key) == jwk_thumbprint(rsa_key)


# -- chains, algorithms, claims -----------------------------------------------------------


def test_a_chain_into_the_bundle_is_accepted_and_jwks_does_not_rescue_a_bad_one(
    chain_leaf: Issued,
) -> None:
    key = chain_leaf.signing_key()
    _, root = chain_leaf.issuers
    token = forge(key, _header(key), _claims())
    _verify(token, bundle_pem=bundle_pem([root]))
    stranger = generate_key(now=NOW - timedelta(days=1))
    with pytest.raises(TokenRejected):
        _verify(token, bundle_pem=bundle_pem([stranger.certificate]), jwks=_jwks(key))


def test_accepted_algorithms_are_configurable(key: SigningKey) -> None:
    token = forge(key, _header(key, x5c=False), _claims())
    _verify(token, jwks=_jwks(key), algorithms=[key.algorithm])
    other = "RS256" if key.algorithm == "ES256" else "ES256"
    with pytest.raises(TokenRejected, match="unexpected signature algorithm"):
        _verify(token, jwks=_jwks(key), algorithms=[other])


def test_alg_must_suit_the_key(key: SigningKey) -> None:
    token = forge(key, _header(key, x5c=False), _claims())
    header, claims, signature = token.split(".")
    wrong = "ES384" if key.algorithm == "ES256" else "PS256"
    forged_header = _b64(json.dumps(_header(key, x5c=False, alg=wrong)).encode())
    with pytest.raises(TokenRejected):
        _verify(f"{forged_header}.{claims}.{signature}", jwks=_jwks(key))
    assert header != forged_header


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "someone-else"}, "untrusted issuer"),
        ({"aud": "registry.other"}, "another audience"),
        ({"aud": ["registry.other"]}, "another audience"),
        ({"exp": T - 61}, "after its exp"),
        ({"exp": None}, "after its exp"),
        ({"nbf": T + 61}, "before its nbf"),
        ({"exp": float(T + 300)}, "not an integer"),
        ({"sub": 7}, "not a string"),
        ({"access": [{"type": "repository", "name": "a", "actions": "pull"}]}, "actions"),
    ],
)
def test_claims_are_checked(key: SigningKey, changes: dict[str, Any], reason: str) -> None:
    token = forge(key, _header(key, x5c=False), _claims(**changes))
    with pytest.raises(TokenRejected, match=reason):
        _verify(token, jwks=_jwks(key))


def test_aud_may_be_a_list_and_leeway_applies(key: SigningKey) -> None:
    jwks = _jwks(key)
    _verify(forge(key, _header(key, x5c=False), _claims(aud=["x", SERVICE])), jwks=jwks)
    _verify(forge(key, _header(key, x5c=False), _claims(exp=T - 60, nbf=T + 60)), jwks=jwks)


def test_padding_and_extra_parts_are_malformed(key: SigningKey) -> None:
    token = forge(key, _header(key, x5c=False), _claims())
    with pytest.raises(TokenRejected, match="three parts"):
        _verify(token + ".x", jwks=_jwks(key))
    header, claims, signature = token.split(".")
    with pytest.raises(TokenRejected, match="base64url"):
        _verify(f"{header}==.{claims}.{signature}", jwks=_jwks(key))


# -- what a 3.x registry would not start with ----------------------------------------------


def test_a_registry_needs_a_key() -> None:
    with pytest.raises(JwksRejected, match="at least one"):
        trusted_keys(jwks={"keys": []})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"kty": "OKP", "crv": "X25519"}, "unsupported key type"),
        ({"crv": "P-192"}, "unsupported elliptic curve"),
        ({"x": "AAAA"}, "wrong length"),
        ({"x": "q" * 42 + "=="}, "base64url"),
        ({"kty": None}, "missing json web key type"),
    ],
)
def test_a_jwks_go_jose_cannot_read_stops_the_registry(change: dict[str, Any], reason: str) -> None:
    key = generate_key("ES256", now=NOW - timedelta(days=1))
    jwk = {k: v for k, v in {**public_jwk(key), **change}.items() if v is not None}
    with pytest.raises(JwksRejected, match=reason):
        trusted_keys(jwks={"keys": [jwk]})


def test_a_jwk_whose_x5c_holds_another_key_stops_the_registry() -> None:
    key = generate_key("ES256", now=NOW - timedelta(days=1))
    other = generate_key("ES256", now=NOW - timedelta(days=1))
    jwk = dict(public_jwk(key), x5c=list(other.x5c))
    with pytest.raises(JwksRejected, match="do not match"):
        trusted_keys(jwks={"keys": [jwk]})


# -- Dockit's tokens -----------------------------------------------------------------------


def _signer() -> TokenSigner:
    return TokenSigner(ISSUER, clock=lambda: NOW, jwks_audiences=[SERVICE])


def test_dockit_signs_kid_only_tokens_for_a_jwks_audience(key: SigningKey) -> None:
    access = [{"type": "repository", "name": "alice/hello", "actions": ["pull", "push"]}]
    issued = _signer().sign(key, subject="alice", audience=SERVICE, access=access)
    header = jwt_header(issued.token)
    assert header == {"alg": key.algorithm, "kid": key.kid, "typ": "JWT"}
    claims = _verify(issued.token, jwks=_jwks(key))
    assert claims["access"] == access
    bundle = bundle_pem(bundle_certificates([key]))
    assert _verify(issued.token, jwks=_jwks(key), bundle_pem=bundle) == claims
    # 3.x given the bundle alone does not find it: it keys certificates by thumbprint.
    with pytest.raises(TokenRejected, match="untrusted key"):
        _verify(issued.token, bundle_pem=bundle)


def test_dockit_keeps_x5c_for_other_audiences(key: SigningKey) -> None:
    issued = _signer().sign(key, subject="alice", audience="registry.test", access=[])
    assert jwt_header(issued.token)["x5c"] == list(key.x5c)
    bundle = bundle_pem(bundle_certificates([key]))
    verify_token(issued.token, bundle_pem=bundle, issuer=ISSUER, service="registry.test", now=NOW)
    _verify(issued.token, bundle_pem=bundle, service="registry.test")
    with pytest.raises(TokenRejected):
        _verify(issued.token, jwks=_jwks(key), service="registry.test")


def test_a_chain_key_signs_kid_only_tokens_the_jwks_accepts(chain_leaf: Issued) -> None:
    key = chain_leaf.signing_key()
    issued = _signer().sign(key, subject="alice", audience=SERVICE, access=[])
    assert "x5c" not in jwt_header(issued.token)
    _verify(issued.token, jwks=_jwks(key))
