"""What a registry 3.x trusts, read the way distribution 3.1.1 and go-jose v4 read it.

``newAccessController`` (``registry/auth/token/accesscontroller.go``): each certificate of
``rootcertbundle`` is a root, and its public key is also trusted under its JWK thumbprint as
``GetJWKThumbprint`` (``util.go``) computes it: RFC 7638, except that an EC coordinate or
an RSA modulus loses its leading zero bytes (Go's ``big.Int.Bytes``). Each key of the
``jwks`` file is trusted under its own ``kid`` member, after the bundle's (a later entry
wins). A JWKS that go-jose's ``JSONWebKeySet`` cannot read (a key of an unsupported type or
curve, an EC coordinate of the wrong length, a point off its curve, an ``x5c`` whose leaf
holds another key) stops the registry at start: :class:`JwksRejected`; so does having no
certificate and no JWKS key. Used by :mod:`tests.support.verifier_v3`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = [
    "JwksRejected",
    "PublicKey",
    "TrustedKeys",
    "go_jwk_thumbprint",
    "raw_b64url",
    "trusted_keys",
]

_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class JwksRejected(Exception):
    """Registry 3.x would not start with this JWKS; the message says why."""


@dataclass(frozen=True)
class TrustedKeys:
    """What a 3.x registry trusts: the bundle's roots and keys by ID."""

    roots: tuple[x509.Certificate, ...]
    by_kid: dict[str, PublicKey]


# -- keys ------------------------------------------------------------------------------


def raw_b64url(segment: str) -> bytes:
    """Go's ``base64.RawURLEncoding``: no padding, URL alphabet only; ValueError otherwise."""
    if "=" in segment:
        raise ValueError("padded base64url")
    try:
        return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        raise ValueError("not base64url") from None


def _b64url_nopad(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _minimal_bytes(value: int) -> bytes:
    """Go's ``big.Int.Bytes()``: big-endian without leading zero bytes (empty for 0)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def go_jwk_thumbprint(public_key: object) -> str:
    """``GetJWKThumbprint`` of distribution 3.x (util.go): the key a root certificate is
    trusted under. RFC 7638 with SHA-256, except that coordinates and the modulus are
    encoded without leading zero bytes; "" for a key type it does not know."""
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        e = _b64url_nopad(_minimal_bytes(numbers.e))
        n = _b64url_nopad(_minimal_bytes(numbers.n))
        payload = f'{{"e":"{e}","kty":"RSA","n":"{n}"}}'
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        point = public_key.public_numbers()
        crv = _CURVE_NAMES.get(public_key.curve.name, public_key.curve.name)
        x = _b64url_nopad(_minimal_bytes(point.x))
        y = _b64url_nopad(_minimal_bytes(point.y))
        payload = f'{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}'
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        x = _b64url_nopad(public_key.public_bytes_raw())
        payload = f'{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}'
    else:
        return ""
    return _b64url_nopad(hashlib.sha256(payload.encode()).digest())


def _same_key(a: object, b: object) -> bool:
    if isinstance(a, ec.EllipticCurvePublicKey) and isinstance(b, ec.EllipticCurvePublicKey):
        return a.curve.name == b.curve.name and a.public_numbers() == b.public_numbers()
    if isinstance(a, rsa.RSAPublicKey) and isinstance(b, rsa.RSAPublicKey):
        return a.public_numbers() == b.public_numbers()
    if isinstance(a, ed25519.Ed25519PublicKey) and isinstance(b, ed25519.Ed25519PublicKey):
        return a.public_bytes_raw() == b.public_bytes_raw()
    return False


# -- the JWKS file (go-jose JSONWebKeySet) ------------------------------------------------


def _jwk_bytes(jwk: dict[str, Any], name: str) -> bytes | None:
    value = jwk.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise JwksRejected(f"member {name} is not a string")
    try:
        return raw_b64url(value)
    except ValueError:
        raise JwksRejected(f"member {name} is not unpadded base64url") from None


def _jwk_public_key(jwk: dict[str, Any]) -> PublicKey:
    kty = jwk.get("kty")
    if kty == "EC":
        curve = _CURVES.get(str(jwk.get("crv")))
        if curve is None:
            raise JwksRejected(f"unsupported elliptic curve {jwk.get('crv')!r}")
        x, y = _jwk_bytes(jwk, "x"), _jwk_bytes(jwk, "y")
        if x is None or y is None:
            raise JwksRejected("invalid EC key, missing x/y values")
        if len(x) != curve[1] or len(y) != curve[1]:
            raise JwksRejected("invalid EC public key, wrong length for x or y")
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve[0]
        )
        try:
            return numbers.public_key()
        except ValueError:
            raise JwksRejected("invalid EC key, X/Y are not on declared curve") from None
    if kty == "RSA":
        n, e = _jwk_bytes(jwk, "n"), _jwk_bytes(jwk, "e")
        if n is None or e is None:
            raise JwksRejected("invalid RSA key, missing n/e values")
        try:
            return rsa.RSAPublicNumbers(
                int.from_bytes(e, "big"), int.from_bytes(n, "big")
            ).public_key()
        except ValueError:
            raise JwksRejected("invalid RSA key") from None
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        x = _jwk_bytes(jwk, "x")
        if x is None or len(x) != 32:
            raise JwksRejected("invalid Ed25519 key")
        return ed25519.Ed25519PublicKey.from_public_bytes(x)
    if not kty:
        raise JwksRejected("missing json web key type")
    raise JwksRejected(f"unsupported key type {kty!r}")


def _jwk_certificates(jwk: dict[str, Any]) -> list[x509.Certificate]:
    chain = jwk.get("x5c")
    if chain is None:
        return []
    if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
        raise JwksRejected("x5c must be a list of strings")
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in chain]
    except (binascii.Error, ValueError):
        raise JwksRejected("x5c holds something that is not a base64 DER certificate") from None


def _jwks_keys(jwks: object) -> list[tuple[str, PublicKey]]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys", []), list):
        raise JwksRejected("failed to parse jwks: not an object with a keys list")
    parsed: list[tuple[str, PublicKey]] = []
    for index, jwk in enumerate(jwks.get("keys") or []):
        if not isinstance(jwk, dict):
            raise JwksRejected(f"key {index} is not an object")
        key = _jwk_public_key(jwk)
        certificates = _jwk_certificates(jwk)
        if certificates and not _same_key(certificates[0].public_key(), key):
            raise JwksRejected(f"key {index}: public keys in key and x5c fields do not match")
        kid = jwk.get("kid", "")
        if not isinstance(kid, str):
            raise JwksRejected(f"key {index}: kid is not a string")
        parsed.append((kid, key))
    return parsed


def trusted_keys(*, bundle_pem: bytes | None = None, jwks: object = None) -> TrustedKeys:
    """What a 3.x registry given ``rootcertbundle`` and/or ``jwks`` trusts."""
    roots: list[x509.Certificate] = []
    if bundle_pem is not None:
        roots = [cert for cert in x509.load_pem_x509_certificates(bundle_pem) if cert is not None]
    by_kid: dict[str, PublicKey] = {}
    for cert in roots:
        key = cert.public_key()
        thumbprint = go_jwk_thumbprint(key)
        if thumbprint and isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            by_kid[thumbprint] = key
    jwks_keys = _jwks_keys(jwks) if jwks is not None else []
    if not roots and not jwks_keys:
        raise JwksRejected("token auth requires at least one token signing key")
    for kid, key in jwks_keys:
        by_kid[kid] = key
    return TrustedKeys(tuple(roots), by_kid)
