"""An independent verifier of registry tokens, written to distribution 3.x's rules.

Registry 3.x (3.0.0 to 3.1.1) is in no package registry reachable here, so this is the
check that Dockit's tokens are accepted by it. It follows ``registry/auth/token`` of
distribution v3.1.1 (``accesscontroller.go``, ``token.go``, ``util.go``) and the go-jose v4
code it calls, as far as a token or key Dockit could send is concerned:

* Trusted keys (``newAccessController``): see :mod:`tests.support.trust_v3` (the bundle's
  certificates as roots and by their Go thumbprint, the JWKS keys by their ``kid``).
* Parsing (``jwt.ParseSigned``): compact form, base64url without padding, ``alg`` one of
  the accepted algorithms (by default all of EdDSA, HS*, RS*, ES*, PS*), a ``kid`` that is a
  string, an ``x5c`` of standard-base64 DER certificates, an embedded ``jwk`` that is public.
* The signing key (``VerifySigningKey``): an ``x5c`` chain is checked first, against the
  bundle's roots, and when it is present but does not verify the token is refused, whatever
  ``kid`` or ``jwk`` says. Only without ``x5c``: a ``jwk`` without a chain must have a
  trusted ``kid`` (the trusted key is used, not the embedded one); else the ``kid`` is
  looked up among the trusted keys.
* The signature (go-jose ``Verify``): the key's type must suit ``alg`` (ES256 a P-256 key,
  RS*/PS* an RSA key); ECDSA signatures are ``r || s``; a ``crit`` header may name only
  ``b64``.
* Claims (``Verify``): ``iss`` is the issuer, ``aud`` a string or a list holding the
  service, ``exp`` + 60 s not past (a missing ``exp`` is 0: expired), ``nbf`` - 60 s not
  future; types as Go's ``encoding/json`` reads them into the ``ClaimSet``.

Not modelled, as Dockit never sends them: a ``jwk`` header with its own ``x5c``, the
``b64: false`` payload form, name constraints in a chain, claim names in another case
(Go's JSON matching is case-insensitive).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.trust_v3 import (
    JwksRejected,
    PublicKey,
    TrustedKeys,
    go_jwk_thumbprint,
    raw_b64url,
    trusted_keys,
)
from tests.support.verifier import TokenRejected
from tests.support.verifier import _verify_chain as verify_x5c_chain

__all__ = [
    "DEFAULT_ALGORITHMS",
    "JwksRejected",
    "TokenRejected",
    "TrustedKeys",
    "go_jwk_thumbprint",
    "trusted_keys",
    "verify_token_v3",
]

LEEWAY = timedelta(seconds=60)
DEFAULT_ALGORITHMS = (
    "EdDSA",
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
)
_EC_ALGS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "ES256": ("secp256r1", hashes.SHA256),
    "ES384": ("secp384r1", hashes.SHA384),
    "ES512": ("secp521r1", hashes.SHA512),
}
_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_INT64 = (-(2**63), 2**63 - 1)

# -- the token ----------------------------------------------------------------------------


def _raw_b64url(segment: str, what: str) -> bytes:
    try:
        return raw_b64url(segment)
    except ValueError:
        raise TokenRejected(f"{what} is not unpadded base64url") from None


def _header(segment: str, algorithms: Iterable[str]) -> dict[str, Any]:
    try:
        header = json.loads(_raw_b64url(segment, "header"))
    except (ValueError, UnicodeDecodeError):
        raise TokenRejected("header is not JSON") from None
    if not isinstance(header, dict):
        raise TokenRejected("header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in set(algorithms):
        raise TokenRejected(f"unexpected signature algorithm {alg!r}")
    if "kid" in header and header["kid"] is not None and not isinstance(header["kid"], str):
        raise TokenRejected("failed to unmarshal key ID")
    critical = header.get("crit")
    if critical is not None and (
        not isinstance(critical, list) or any(name != "b64" for name in critical)
    ):
        raise TokenRejected("unsupported crit header")
    return header


def _signing_key(header: dict[str, Any], trusted: TrustedKeys, now: datetime) -> PublicKey:
    x5c = header.get("x5c")
    if x5c is not None and x5c != []:
        leaf = verify_x5c_chain(x5c, list(trusted.roots), now)
        key = leaf.public_key()
        if not isinstance(
            key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
        ):
            raise TokenRejected("the x5c leaf holds a key of an unknown type")
        return key
    jwk = header.get("jwk")
    if jwk is not None:
        if not isinstance(jwk, dict) or "d" in jwk:
            raise TokenRejected("invalid embedded jwk, must be public key")
        if jwk.get("x5c"):
            raise TokenRejected("a jwk header with its own x5c is not modelled here")
        trusted_key = trusted.by_kid.get(str(jwk.get("kid", "")))
        if trusted_key is None:
            raise TokenRejected("untrusted JWK with no certificate chain")
        return trusted_key
    kid = header.get("kid")
    if kid:
        key_by_id = trusted.by_kid.get(kid)
        if key_by_id is None:
            raise TokenRejected(f"token signed by untrusted key with ID: {kid!r}")
        return key_by_id
    raise TokenRejected("invalid token: no x5c, jwk or kid")


def _verify_signature(alg: str, key: PublicKey, signing_input: bytes, signature: bytes) -> None:
    try:
        if alg in _EC_ALGS:
            curve_name, hash_type = _EC_ALGS[alg]
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != curve_name:
                raise TokenRejected(f"{alg} needs a {curve_name} key")
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                raise TokenRejected("the ECDSA signature has the wrong length")
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hash_type()))
        elif alg[:2] in ("RS", "PS"):
            if not isinstance(key, rsa.RSAPublicKey):
                raise TokenRejected(f"{alg} needs an RSA key")
            hash_algorithm = _RSA_HASHES[alg[2:]]()
            pad: padding.AsymmetricPadding = padding.PKCS1v15()
            if alg.startswith("PS"):
                pad = padding.PSS(padding.MGF1(hash_algorithm), padding.PSS.AUTO)
            key.verify(signature, signing_input, pad, hash_algorithm)
        elif alg == "EdDSA":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise TokenRejected("EdDSA needs an Ed25519 key")
            key.verify(signature, signing_input)
        else:  # HS*: the trusted keys are public keys, never a shared secret
            raise TokenRejected(f"{alg} cannot be verified with a public key")
    except InvalidSignature:
        raise TokenRejected("the signature does not verify") from None


def _go_int64(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenRejected(f"{name} is not an integer")  # Go: cannot unmarshal into int64
    if not _INT64[0] <= value <= _INT64[1]:
        raise TokenRejected(f"{name} does not fit an int64")
    return value


def _audiences(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise TokenRejected("aud is neither a string nor a list of strings")


def _check_claim_types(claims: dict[str, Any]) -> None:
    for name in ("iss", "sub", "jti"):
        if claims.get(name) is not None and not isinstance(claims[name], str):
            raise TokenRejected(f"{name} is not a string")
    access = claims.get("access")
    if access is None:
        return
    if not isinstance(access, list):
        raise TokenRejected("access is not a list")
    for entry in access:
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise TokenRejected("an access entry is not an object")
        for name in ("type", "class", "name"):
            if entry.get(name) is not None and not isinstance(entry[name], str):
                raise TokenRejected(f"access {name} is not a string")
        actions = entry.get("actions")
        if actions is not None and (
            not isinstance(actions, list) or not all(isinstance(a, str) for a in actions)
        ):
            raise TokenRejected("access actions is not a list of strings")


def verify_token_v3(
    token: str,
    *,
    issuer: str,
    service: str,
    bundle_pem: bytes | None = None,
    jwks: object = None,
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The claims of ``token`` if a registry 3.x configured with ``rootcertbundle``
    (``bundle_pem``) and/or ``jwks`` (the parsed JWKS file) accepts it.

    Raises TokenRejected with the reason otherwise, JwksRejected when such a registry would
    not even start.
    """
    moment = now if now is not None else datetime.now(UTC)
    trusted = trusted_keys(bundle_pem=bundle_pem, jwks=jwks)
    if token.count(".") != 2:
        raise TokenRejected("compact JWS format must have three parts")
    header_segment, claims_segment, signature_segment = token.split(".")
    header = _header(header_segment, algorithms)
    payload = _raw_b64url(claims_segment, "claims")
    signature = _raw_b64url(signature_segment, "signature")
    key = _signing_key(header, trusted, moment)
    _verify_signature(
        header["alg"], key, f"{header_segment}.{claims_segment}".encode("ascii"), signature
    )
    try:
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise TokenRejected("claims are not JSON") from None
    if not isinstance(claims, dict):
        raise TokenRejected("claims are not a JSON object")
    _check_claim_types(claims)
    if claims.get("iss") != issuer:
        raise TokenRejected(f"token from untrusted issuer: {claims.get('iss')!r}")
    if service not in _audiences(claims.get("aud")):
        raise TokenRejected(f"token intended for another audience: {claims.get('aud')!r}")
    seconds = moment.timestamp()
    if seconds > _go_int64(claims, "exp") + LEEWAY.total_seconds():
        raise TokenRejected("token not to be used after its exp")
    if seconds < _go_int64(claims, "nbf") - LEEWAY.total_seconds():
        raise TokenRejected("token not to be used before its nbf")
    _go_int64(claims, "iat")
    return claims
