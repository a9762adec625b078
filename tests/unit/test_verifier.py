"""The independent verifier accepts what registry 2.8 accepts and rejects the rest.

Tokens here are forged with pyjwt directly (not libdockit.tokens) so each rule can be broken
one at a time.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from libdockit.keys.bundle import bundle_certificates, bundle_pem
from libdockit.keys.material import SigningKey, generate_key
from libdockit.testing.pki import Issued, make_chain
from tests.support.verifier import TokenRejected, libtrust_key_id, verify_token

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
T = int(NOW.timestamp())
ISSUER = "dockit-test"
SERVICE = "registry.test"


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


def _header(key: SigningKey, **changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"typ": "JWT", "alg": key.algorithm, "kid": key.kid}
    header["x5c"] = list(key.x5c)
    for name, value in changes.items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    return header


def forge(key: SigningKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Sign ``header``.``claims`` with ``key`` exactly as given (pyjwt, not libdockit)."""
    signing_input = (
        _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    ).encode()
    algorithm = jwt.get_algorithm_by_name(key.algorithm)
    signature = algorithm.sign(signing_input, key.private_key)
    return signing_input.decode() + "." + _b64(signature)


@pytest.fixture(scope="module")
def es_key() -> SigningKey:
    return generate_key("ES256", now=NOW - timedelta(days=1))


@pytest.fixture(scope="module")
def rs_key() -> SigningKey:
    return generate_key("RS256", now=NOW - timedelta(days=1))


@pytest.fixture(scope="module")
def chain_leaf() -> Issued:
    return make_chain(2, now=NOW - timedelta(days=1))


def _bundle(*keys: SigningKey) -> bytes:
    return bundle_pem(bundle_certificates(keys))


def _verify(token: str, bundle: bytes, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("issuer", ISSUER)
    kwargs.setdefault("service", SERVICE)
    kwargs.setdefault("now", NOW)
    return verify_token(token, bundle_pem=bundle, **kwargs)


# -- accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["es_key", "rs_key"])
def test_accepts_a_well_formed_token(name: str, request: pytest.FixtureRequest) -> None:
    key: SigningKey = request.getfixturevalue(name)
    claims = _verify(forge(key, _header(key), _claims()), _bundle(key))
    assert claims == _claims()


def test_accepts_within_the_leeway(es_key: SigningKey) -> None:
    bundle = _bundle(es_key)
    _verify(forge(es_key, _header(es_key), _claims(exp=T - 60)), bundle)
    _verify(forge(es_key, _header(es_key), _claims(nbf=T + 60)), bundle)
    _verify(forge(es_key, _header(es_key), _claims(nbf=None, iat=None, jti=None)), bundle)


def test_accepts_chains_into_the_bundle(chain_leaf: Issued) -> None:
    key = chain_leaf.signing_key()
    intermediate, root = chain_leaf.issuers
    token = forge(key, _header(key), _claims())
    _verify(token, _bundle(key))
    _verify(token, bundle_pem([root]))
    # x5c without the root, ending at an intermediate the bundle root signed.
    short = [key.x5c[0], key.x5c[1]]
    _verify(forge(key, _header(key, x5c=short), _claims()), bundle_pem([root]))
    # x5c = [leaf] and the leaf itself is trusted.
    _verify(forge(key, _header(key, x5c=[key.x5c[0]]), _claims()), _bundle(key))
    assert intermediate.subject != root.subject


def test_default_now_is_the_current_time() -> None:
    key = generate_key(now=datetime.now(UTC))
    now = int(datetime.now(UTC).timestamp())
    claims = _claims(exp=now + 300, nbf=now, iat=now)
    assert verify_token(
        forge(key, _header(key), claims), bundle_pem=_bundle(key), issuer=ISSUER, service=SERVICE
    )


def test_libtrust_key_id_is_independent_and_matches(es_key: SigningKey) -> None:
    assert libtrust_key_id(es_key.private_key.public_key()) == es_key.kid


# -- rejected ---------------------------------------------------------------------------


def _tamper_payload(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["access"][0]["actions"] = ["pull", "push"]
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


Mutation = Callable[[SigningKey], str]

REJECTIONS: dict[str, tuple[Mutation, str]] = {
    "tampered payload": (
        lambda k: _tamper_payload(forge(k, _header(k), _claims())),
        "signature does not verify",
    ),
    "aud as list": (lambda k: forge(k, _header(k), _claims(aud=[SERVICE])), "aud must be"),
    "aud missing": (lambda k: forge(k, _header(k), _claims(aud=None)), "aud must be"),
    "other service": (lambda k: forge(k, _header(k), _claims(aud="other")), "aud 'other'"),
    "wrong issuer": (lambda k: forge(k, _header(k), _claims(iss="evil")), "iss 'evil'"),
    "expired beyond leeway": (
        lambda k: forge(k, _header(k), _claims(exp=T - 61)),
        "expired",
    ),
    "not yet valid beyond leeway": (
        lambda k: forge(k, _header(k), _claims(nbf=T + 61)),
        "not valid yet",
    ),
    "exp missing": (lambda k: forge(k, _header(k), _claims(exp=None)), "exp is missing"),
    "exp not an integer": (
        lambda k: forge(k, _header(k), _claims(exp=T + 300.5)),
        "exp must be an integer",
    ),
    "access not a list": (
        lambda k: forge(k, _header(k), _claims(access={"type": "repository"})),
        "access must be a list",
    ),
    "lower-case kid": (lambda k: forge(k, _header(k, kid=k.kid.lower()), _claims()), "kid"),
    "kid without colons": (
        lambda k: forge(k, _header(k, kid=k.kid.replace(":", "")), _claims()),
        "kid",
    ),
    "kid missing": (lambda k: forge(k, _header(k, kid=None), _claims()), "kid is missing"),
    "x5c missing": (lambda k: forge(k, _header(k, x5c=None), _claims()), "x5c"),
    "x5c not base64": (lambda k: forge(k, _header(k, x5c=["%%%"]), _claims()), "not a base64 DER"),
    # A DER certificate's base64 holds '+' or '/' but for a chance of about 1e-6.
    "x5c urlsafe base64": (
        lambda k: forge(
            k,
            _header(k, x5c=[base64.urlsafe_b64encode(base64.b64decode(k.x5c[0])).decode()]),
            _claims(),
        ),
        "not a base64 DER",
    ),
    "typ missing": (lambda k: forge(k, _header(k, typ=None), _claims()), "typ"),
    "typ JOSE": (lambda k: forge(k, _header(k, typ="JOSE"), _claims()), "typ"),
    "alg none": (
        lambda k: forge(k, _header(k, alg="none"), _claims()).rsplit(".", 1)[0] + ".AA",
        "alg 'none'",
    ),
    "alg HS256": (
        lambda k: forge(k, _header(k, alg="HS256"), _claims()).rsplit(".", 1)[0] + ".AAAA",
        "alg 'HS256'",
    ),
    "alg ES384 with a P-256 key": (
        lambda k: forge(k, _header(k, alg="ES384"), _claims()),
        "does not match the key's curve",
    ),
    "empty signature": (
        lambda k: forge(k, _header(k), _claims()).rsplit(".", 1)[0] + ".",
        "signature is empty",
    ),
    "two parts": (lambda k: ".".join(forge(k, _header(k), _claims()).split(".")[:2]), "three"),
    "header not json": (
        lambda k: _b64(b"{nope") + "." + forge(k, _header(k), _claims()).split(".", 1)[1],
        "header is not JSON",
    ),
    "header with padding": (
        lambda k: forge(k, _header(k), _claims()).replace(".", "=.", 1),
        "header is not base64url",
    ),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_rejects(case: str, es_key: SigningKey) -> None:
    mutation, reason = REJECTIONS[case]
    with pytest.raises(TokenRejected, match=reason):
        _verify(mutation(es_key), _bundle(es_key))


def test_rejects_x5c_not_chaining_to_the_bundle(es_key: SigningKey) -> None:
    stranger = generate_key(now=NOW - timedelta(days=1))
    with pytest.raises(TokenRejected, match="does not chain"):
        _verify(forge(es_key, _header(es_key), _claims()), _bundle(stranger))


def test_rejects_a_key_claiming_a_trusted_chain(es_key: SigningKey) -> None:
    # Signed by a stranger, but presenting the trusted key's certificate and kid.
    stranger = generate_key(now=NOW - timedelta(days=1))
    token = forge(stranger, _header(es_key), _claims())
    with pytest.raises(TokenRejected, match="signature does not verify"):
        _verify(token, _bundle(es_key))


def test_rejects_a_kid_of_another_trusted_key(es_key: SigningKey, rs_key: SigningKey) -> None:
    token = forge(es_key, _header(es_key, kid=rs_key.kid), _claims())
    with pytest.raises(TokenRejected, match="not the libtrust key ID"):
        _verify(token, _bundle(es_key, rs_key))


def test_rejects_a_broken_chain(chain_leaf: Issued) -> None:
    key = chain_leaf.signing_key()
    x5c = [key.x5c[0], key.x5c[2]]  # leaf, root: the intermediate is missing
    with pytest.raises(TokenRejected, match=r"x5c\[0\] is not signed by x5c\[1\]"):
        _verify(forge(key, _header(key, x5c=x5c), _claims()), bundle_pem([chain_leaf.root]))


def test_rejects_an_expired_certificate(es_key: SigningKey) -> None:
    token = forge(es_key, _header(es_key), _claims(exp=T + 10**8))
    later = es_key.not_after + timedelta(seconds=1)
    with pytest.raises(TokenRejected, match="not valid at"):
        _verify(token, _bundle(es_key), now=later)


def test_rejects_an_unreadable_bundle(es_key: SigningKey) -> None:
    key_pem = es_key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(TokenRejected, match="bundle"):
        _verify(forge(es_key, _header(es_key), _claims()), key_pem)


def test_rejects_rs_alg_with_an_ec_key(es_key: SigningKey, rs_key: SigningKey) -> None:
    header = _header(es_key, alg="RS256")
    signing_input = (
        _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(_claims()).encode())
    ).encode()
    signature = jwt.get_algorithm_by_name("RS256").sign(signing_input, rs_key.private_key)
    token = signing_input.decode() + "." + _b64(signature)
    with pytest.raises(TokenRejected, match="RS256 needs an RSA key"):
        _verify(token, _bundle(es_key))


def test_token_rejected_carries_the_reason() -> None:
    error = TokenRejected("because")
    assert error.reason == "because"
    assert str(error) == "because"
