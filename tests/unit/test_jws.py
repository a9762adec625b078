"""Compact JWS with a fixed header: what the token signer stands on."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from libdockit.errors import KeyMaterialError
from libdockit.jws import JwsSigner, b64url
from libdockit.keys.material import generate_key

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def _decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_pyjwt_verifies_the_signature(algorithm: str) -> None:
    key = generate_key("RS256" if algorithm == "RS256" else "ES256", now=NOW)
    signer = JwsSigner({"alg": algorithm, "typ": "JWT"}, key.private_key)
    token = signer.sign(b'{"sub":"alice"}')
    claims = jwt.decode(token, key.private_key.public_key(), algorithms=[algorithm])
    assert claims == {"sub": "alice"}


def test_es256_signature_is_r_and_s_of_32_bytes_each() -> None:
    key = generate_key("ES256", now=NOW)
    token = JwsSigner({"alg": "ES256"}, key.private_key).sign(b"{}")
    header, payload, signature = token.split(".")
    raw = _decode(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public_key = key.private_key.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))


def test_header_segment_is_the_compact_json_of_the_header() -> None:
    key = generate_key("ES256", now=NOW)
    header = {"alg": "ES256", "kid": "K", "typ": "JWT", "x5c": ["a", "b"]}
    signer = JwsSigner(header, key.private_key)
    token = signer.sign(b"{}")
    assert token.split(".")[0].encode() == signer.header_segment
    assert _decode(token.split(".")[0]) == json.dumps(header, separators=(",", ":")).encode()
    assert "=" not in token


def test_b64url_has_no_padding_and_is_url_safe() -> None:
    assert b64url(b"\xfb\xff") == b"-_8"
    assert b64url(b"") == b""


@pytest.mark.parametrize(
    ("algorithm", "key_algorithm"), [("ES256", "RS256"), ("RS256", "ES256"), ("HS256", "ES256")]
)
def test_a_key_that_cannot_sign_the_algorithm_is_refused(
    algorithm: str, key_algorithm: str
) -> None:
    key = generate_key("RS256" if key_algorithm == "RS256" else "ES256", now=NOW)
    with pytest.raises(KeyMaterialError):
        JwsSigner({"alg": algorithm}, key.private_key)


def test_an_ec_key_on_another_curve_is_refused() -> None:
    with pytest.raises(KeyMaterialError, match="P-256"):
        JwsSigner({"alg": "ES256"}, ec.generate_private_key(ec.SECP384R1()))
