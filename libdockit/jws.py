"""Compact JWS serialisation (RFC 7515 §7.1) with a fixed header per key, ES256 or RS256.

A registry token's header depends only on the key that signs it, so :class:`JwsSigner`
serialises and base64url-encodes it once, and hashes it once too (a header with an ``x5c``
chain is most of the signing input): each token then costs a base64url of its claims, the
rest of the SHA-256 and one signature of that digest. A generic JWT library re-validates the
header, looks the algorithm up and converts the signature in Python on every call; this does
none of that per token.

Signatures are those of RFC 7518: ES256 is ECDSA P-256 with SHA-256 as the 64-byte ``R || S``
(not the DER a crypto library returns), RS256 RSASSA-PKCS1-v1_5 with SHA-256.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from .errors import KeyMaterialError
from .keys.material import PrivateKey

__all__ = ["JwsSigner", "b64url"]

#: Signs the SHA-256 digest of a signing input (both algorithms hash with SHA-256).
Signature = Callable[[bytes], bytes]
_PREHASHED_SHA256 = Prehashed(hashes.SHA256())


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def b64url(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 §2)."""
    # base64.urlsafe_b64encode does the same through two more Python calls.
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=")


def _es256(private_key: ec.EllipticCurvePrivateKey) -> Signature:
    size = (private_key.curve.key_size + 7) // 8
    algorithm = ec.ECDSA(_PREHASHED_SHA256)

    def sign(digest: bytes) -> bytes:
        r, s = decode_dss_signature(private_key.sign(digest, algorithm))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")  # JWS wants R || S, not DER

    return sign


def _rs256(private_key: rsa.RSAPrivateKey) -> Signature:
    scheme = padding.PKCS1v15()
    return lambda digest: private_key.sign(digest, scheme, _PREHASHED_SHA256)


def signature_function(algorithm: str, private_key: PrivateKey) -> Signature:
    """The JWS signature of ``algorithm`` with ``private_key``, as bytes, of the SHA-256
    digest of a signing input."""
    if algorithm == "ES256" and isinstance(private_key, ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise KeyMaterialError(f"ES256 needs a P-256 key, not {private_key.curve.name}")
        return _es256(private_key)
    if algorithm == "RS256" and isinstance(private_key, rsa.RSAPrivateKey):
        return _rs256(private_key)
    raise KeyMaterialError(f"a {type(private_key).__name__} cannot sign {algorithm}")


class JwsSigner:
    """Compact JWS tokens with one fixed protected header, signed with one key."""

    __slots__ = ("_header", "_prefix_hash", "_sign")

    def __init__(
        self,
        header: dict[str, str | Sequence[str]],
        private_key: PrivateKey,
    ) -> None:
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            raise KeyMaterialError("a JWS header needs its 'alg'")
        self._sign = signature_function(algorithm, private_key)
        encoded = json.dumps(header, separators=(",", ":")).encode("ascii")
        self._header = b64url(encoded)  # the header segment, encoded once per key
        self._prefix_hash = hashlib.sha256(self._header + b".")  # ... and hashed once

    @property
    def header_segment(self) -> bytes:
        return self._header

    def sign(self, payload: bytes) -> str:
        """``header.payload.signature``, each base64url."""
        encoded = b64url(payload)
        digest = self._prefix_hash.copy()
        digest.update(encoded)
        signature = b64url(self._sign(digest.digest()))
        return b".".join((self._header, encoded, signature)).decode("ascii")
