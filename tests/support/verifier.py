"""An independent verifier of registry tokens, written to distribution 2.8's rules.

Deliberately shares no code with libdockit's signing side and does not use pyjwt: it splits
the JWT itself, checks the x5c chain against a ``rootcertbundle`` with ``cryptography``, and
checks the claims the way registry 2.8's ``token.go`` does (``aud`` a string, integer
``exp``/``nbf``, 60 s leeway). It adds Dockit's own contract on top: ``typ`` is ``JWT`` and
the header carries a ``kid`` equal to the leaf's libtrust key ID.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

LEEWAY = timedelta(seconds=60)

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_EC_CURVES: dict[str, str] = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512"})
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class TokenRejected(Exception):
    """The token would not be accepted; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- decoding ---------------------------------------------------------------------------


def _b64url_decode(segment: str, what: str) -> bytes:
    if not _B64URL.match(segment) or len(segment) % 4 == 1:
        raise TokenRejected(f"{what} is not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url_decode(segment, what))
    except (ValueError, UnicodeDecodeError):
        raise TokenRejected(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenRejected(f"{what} is not a JSON object")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- key identification -----------------------------------------------------------------


def libtrust_key_id(public_key: Any) -> str:
    """base32(SHA-256(DER SPKI)[:30]) without '=', in 12 ':'-separated groups of 4."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode("ascii").rstrip("=")
    groups = [text[index : index + 4] for index in range(0, len(text), 4)]
    return ":".join(groups)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s name and key issued ``cert`` (PKCS#1 v1.5 or ECDSA)."""
    if cert.issuer != issuer.subject:
        return False
    public_key = issuer.public_key()
    hash_algorithm = cert.signature_hash_algorithm
    if hash_algorithm is None:
        return False
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(
                cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm
            )
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hash_algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return True


def _check_validity(cert: x509.Certificate, now: datetime, what: str) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise TokenRejected(f"{what} is not valid at {now.isoformat()}")


def _verify_chain(x5c: object, bundle: list[x509.Certificate], now: datetime) -> x509.Certificate:
    """The leaf of the x5c chain, after checking the chain leads into the bundle."""
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise TokenRejected("header x5c must be a non-empty list of strings")
    chain = []
    for position, encoded in enumerate(x5c):
        try:
            der = base64.b64decode(encoded, validate=True)
            chain.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError):
            raise TokenRejected(f"x5c[{position}] is not a base64 DER certificate") from None
    for position, cert in enumerate(chain):
        _check_validity(cert, now, f"x5c[{position}]")
    for position in range(len(chain) - 1):
        if not _signed_by(chain[position], chain[position + 1]):
            raise TokenRejected(f"x5c[{position}] is not signed by x5c[{position + 1}]")
    last = chain[-1]
    trusted = {_der(cert) for cert in bundle}
    if _der(last) not in trusted:
        anchors = [cert for cert in bundle if _signed_by(last, cert)]
        if not anchors:
            raise TokenRejected("x5c does not chain to a certificate in the bundle")
        _check_validity(anchors[0], now, "the bundle certificate that issued the chain")
    return chain[0]


# -- signature --------------------------------------------------------------------------


def _verify_signature(alg: str, public_key: Any, signing_input: bytes, signature: bytes) -> None:
    hash_algorithm = _HASHES[alg[2:]]()
    try:
        if alg.startswith("ES"):
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise TokenRejected(f"{alg} needs an EC key")
            if public_key.curve.name != _EC_CURVES[alg]:
                raise TokenRejected(f"{alg} does not match the key's curve")
            size = (public_key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                raise TokenRejected("the ECDSA signature has the wrong length")
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            public_key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hash_algorithm))
        else:
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise TokenRejected(f"{alg} needs an RSA key")
            public_key.verify(signature, signing_input, padding.PKCS1v15(), hash_algorithm)
    except InvalidSignature:
        raise TokenRejected("the signature does not verify") from None


# -- claims -----------------------------------------------------------------------------


def _check_access(access: object) -> None:
    if not isinstance(access, list):
        raise TokenRejected("access must be a list")
    for entry in access:
        if not isinstance(entry, dict):
            raise TokenRejected("each access entry must be an object")
        for name in ("type", "name", "class"):
            if name in entry and not isinstance(entry[name], str):
                raise TokenRejected(f"access {name} must be a string")
        actions = entry.get("actions", [])
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise TokenRejected("access actions must be a list of strings")


def _check_claims(claims: dict[str, Any], issuer: str, service: str, now: datetime) -> None:
    if claims.get("iss") != issuer:
        raise TokenRejected(f"iss {claims.get('iss')!r} is not {issuer!r}")
    audience = claims.get("aud")
    if not isinstance(audience, str):
        raise TokenRejected("aud must be a JSON string (registry 2.8: malformed token)")
    if audience != service:
        raise TokenRejected(f"aud {audience!r} is not {service!r}")
    for name in ("sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise TokenRejected(f"{name} must be a string")
    for name in ("exp", "nbf", "iat"):
        if name in claims and not _is_int(claims[name]):
            raise TokenRejected(f"{name} must be an integer")
    if "exp" not in claims:
        raise TokenRejected("exp is missing")
    if now > datetime.fromtimestamp(claims["exp"], UTC) + LEEWAY:
        raise TokenRejected("the token has expired")
    if "nbf" in claims and now < datetime.fromtimestamp(claims["nbf"], UTC) - LEEWAY:
        raise TokenRejected("the token is not valid yet")
    if "access" in claims:
        _check_access(claims["access"])


# -- entry point ------------------------------------------------------------------------


def verify_token(
    token: str,
    *,
    bundle_pem: bytes,
    issuer: str,
    service: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The claims of ``token`` if registry 2.8 (plus Dockit's header contract) accepts it.

    Raises TokenRejected with the reason otherwise.
    """
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected("a JWT has three dot-separated parts")
    header = _json_object(parts[0], "header")
    claims = _json_object(parts[1], "claims")
    signature = _b64url_decode(parts[2], "signature")
    if not signature:
        raise TokenRejected("the signature is empty")
    if header.get("typ") != "JWT":
        raise TokenRejected("header typ must be JWT")
    alg = header.get("alg")
    if alg not in _ALGORITHMS:
        raise TokenRejected(f"alg {alg!r} is not accepted")
    try:
        bundle = x509.load_pem_x509_certificates(bundle_pem)
    except ValueError:
        raise TokenRejected("the bundle holds no readable certificate") from None
    leaf = _verify_chain(header.get("x5c"), bundle, moment)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("header kid is missing")
    if kid != libtrust_key_id(leaf.public_key()):
        raise TokenRejected("header kid is not the libtrust key ID of the x5c leaf")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    _verify_signature(alg, leaf.public_key(), signing_input, signature)
    _check_claims(claims, issuer, service, moment)
    return claims
