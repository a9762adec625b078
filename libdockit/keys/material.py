"""Signing keys: generation, loading, identification and the certificate bundle.

A :class:`SigningKey` is a private key plus its certificate chain (leaf first). The registry
finds the key that signed a token through the ``x5c`` header (the chain, standard base64
DER) and, for the ``kid`` path, through the libtrust key ID of the leaf's public key; both
are computed once here so the token path only signs.

What Debian's docker-registry 2.8 accepts (see the registry facts): ES256 on P-256 and
RS256 on RSA >= 2048 bits; a ``rootcertbundle`` whose certificates are either the leaves
themselves or CAs the ``x5c`` chain leads to. :func:`bundle_certificates` puts both the leaf
and the last certificate of each chain into the bundle, so ``x5c`` and ``kid`` both work.

Generated certificates are self-signed with ``basicConstraints CA:FALSE``: Go's
``x509.Certificate.Verify`` accepts a leaf that *is* one of the roots without checking its
CA flag, which is how the registry trusts it. ``notBefore`` is set five minutes before
``now`` so a registry whose clock runs slightly behind still accepts a freshly made key.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from ..errors import KeyMaterialError
from ..model import KeyState, StoredKey
from .crypt import PLAINTEXT, KeyProtector

__all__ = [
    "ALGORITHMS",
    "MIN_RSA_KEY_SIZE",
    "Algorithm",
    "PrivateKey",
    "PublicKey",
    "SigningKey",
    "from_stored",
    "generate_key",
    "jwk_thumbprint",
    "libtrust_kid",
    "load_key",
    "public_jwk",
    "to_stored",
]

Algorithm = Literal["ES256", "RS256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ES256", "RS256")
MIN_RSA_KEY_SIZE = 2048
BACKDATE = timedelta(minutes=5)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# Curves libtrust (and so registry 2.8) can turn into a trusted key; others crash it at start.
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.DOTALL
)


@dataclass(frozen=True, eq=False)
class SigningKey:
    """A private key and its certificate chain, leaf first; equality is identity.

    ``x5c``, ``not_before`` and ``not_after`` are derived from the chain at construction.
    The constructor checks that ``kid`` is the leaf's libtrust key ID and that the private
    key belongs to the leaf; use :func:`generate_key` or :func:`load_key` to make one.
    """

    kid: str
    algorithm: Algorithm
    private_key: PrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...] = field(repr=False)
    x5c: tuple[str, ...] = field(init=False, repr=False)
    not_after: datetime = field(init=False)
    not_before: datetime = field(init=False)

    def __post_init__(self) -> None:
        if not self.chain:
            raise KeyMaterialError("a signing key needs at least its own certificate")
        leaf = self.chain[0]
        if _spki(leaf.public_key()) != _spki(self.private_key.public_key()):
            raise KeyMaterialError("the private key does not match the leaf certificate")
        if self.algorithm != _algorithm_for(self.private_key):
            raise KeyMaterialError(f"the key cannot sign {self.algorithm}")
        if self.kid != libtrust_kid(leaf.public_key()):
            raise KeyMaterialError("kid is not the libtrust key ID of the leaf certificate")
        x5c = tuple(
            base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
            for cert in self.chain
        )
        object.__setattr__(self, "x5c", x5c)
        object.__setattr__(self, "not_after", leaf.not_valid_after_utc)
        object.__setattr__(self, "not_before", leaf.not_valid_before_utc)

    @property
    def certificate(self) -> x509.Certificate:
        """The leaf certificate."""
        return self.chain[0]


# -- identification ---------------------------------------------------------------------


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def libtrust_kid(public_key: CertificatePublicKeyTypes) -> str:
    """The libtrust key ID: base32 of SHA-256(DER SPKI)[:30], upper case, 12 groups of 4.

    Example shape: ``ARSD:B7VI:XXUJ:V5FD:3UY5:J77M:7K37:2MAK:TWTR:7FW3:3J22:PYIZ``.
    """
    digest = hashlib.sha256(_spki(public_key)).digest()[:30]
    encoded = base64.b32encode(digest).decode("ascii").rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64url(value.to_bytes(size, "big"))


def _jwk_members(public_key: CertificatePublicKeyTypes) -> dict[str, str]:
    """The required JWK members of an EC or RSA public key (RFC 7518 section 6)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = public_key.curve
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        if curve.name not in names:
            raise KeyMaterialError(f"EC curve {curve.name} has no JWK name")
        numbers = public_key.public_numbers()
        size = (curve.key_size + 7) // 8
        return {
            "kty": "EC",
            "crv": names[curve.name],
            "x": _uint(numbers.x, size),
            "y": _uint(numbers.y, size),
        }
    if isinstance(public_key, rsa.RSAPublicKey):
        rsa_numbers = public_key.public_numbers()
        return {"kty": "RSA", "n": _uint(rsa_numbers.n), "e": _uint(rsa_numbers.e)}
    raise KeyMaterialError(f"{type(public_key).__name__} keys are not supported")


def jwk_thumbprint(public_key: CertificatePublicKeyTypes) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of an EC or RSA key."""
    canonical = json.dumps(_jwk_members(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(key: SigningKey) -> dict[str, Any]:
    """The public JWK of ``key``: its members, ``kid`` (libtrust), ``alg``, ``use``, ``x5c``."""
    jwk: dict[str, Any] = dict(_jwk_members(key.private_key.public_key()))
    jwk.update(kid=key.kid, alg=key.algorithm, use="sig", x5c=list(key.x5c))
    return jwk


# -- generation and loading -------------------------------------------------------------


def _algorithm_for(private_key: object) -> Algorithm:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if isinstance(private_key.curve, ec.SECP256R1):
            return "ES256"
        raise KeyMaterialError(
            f"EC keys on {private_key.curve.name} are not supported: use P-256 (ES256)"
        )
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < MIN_RSA_KEY_SIZE:
            raise KeyMaterialError(
                f"RSA keys of {private_key.key_size} bits are too small: "
                f"use at least {MIN_RSA_KEY_SIZE} bits (RS256)"
            )
        return "RS256"
    raise KeyMaterialError(
        f"{type(private_key).__name__} keys are not supported: use EC P-256 or RSA"
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def generate_key(
    algorithm: Algorithm = "ES256",
    *,
    now: datetime,
    common_name: str = "dockit",
    validity: timedelta = timedelta(days=365),
    rsa_key_size: int = MIN_RSA_KEY_SIZE,
) -> SigningKey:
    """A new private key with a self-signed certificate valid from ``now`` for ``validity``.

    ES256 uses P-256; RS256 uses an RSA key of ``rsa_key_size`` bits (at least 2048).
    """
    private_key: PrivateKey
    if algorithm == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "RS256":
        if rsa_key_size < MIN_RSA_KEY_SIZE:
            raise KeyMaterialError(f"RSA keys must have at least {MIN_RSA_KEY_SIZE} bits")
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)
    else:
        raise KeyMaterialError(f"unsupported algorithm {algorithm!r}: use ES256 or RS256")
    if validity <= timedelta(0):
        raise KeyMaterialError("the certificate validity must be positive")
    start = _utc(now)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public_key = private_key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - BACKDATE)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(private_key, hashes.SHA256())
    )
    return SigningKey(
        kid=libtrust_kid(public_key),
        algorithm=algorithm,
        private_key=private_key,
        chain=(certificate,),
    )


def load_certificates(pem: bytes, what: str) -> list[x509.Certificate]:
    """Every CERTIFICATE block of ``pem``, in order; other PEM blocks are skipped."""
    certificates = []
    for index, match in enumerate(_PEM_CERTIFICATE.finditer(pem), start=1):
        try:
            certificates.append(x509.load_pem_x509_certificate(match.group(0)))
        except ValueError:
            raise KeyMaterialError(f"certificate {index} of the {what} cannot be parsed") from None
    if not certificates:
        raise KeyMaterialError(f"the {what} holds no PEM certificate")
    return certificates


def _check_chain(chain: list[x509.Certificate]) -> None:
    """Each certificate must be issued, and signed, by the next, which must be a CA."""
    for position, (child, issuer) in enumerate(itertools.pairwise(chain), start=1):
        try:
            child.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise KeyMaterialError(
                f"certificate {position + 1} of the chain did not issue certificate {position}: "
                "give the leaf first, then each issuer in order"
            ) from None
        try:
            constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            raise KeyMaterialError(
                f"certificate {position + 1} of the chain is not a CA (basicConstraints CA:TRUE)"
            )


def load_key(
    private_key_pem: bytes, chain_pem: bytes, *, password: bytes | None = None
) -> SigningKey:
    """A signing key from a PEM private key and a PEM chain (leaf, intermediates[, root]).

    Raises KeyMaterialError, saying what is wrong, if the key cannot be read, is not EC P-256
    or RSA >= 2048, does not match the leaf, or the chain is out of order.
    """
    try:
        loaded = serialization.load_pem_private_key(private_key_pem, password=password)
    except TypeError:
        if password is None:
            raise KeyMaterialError("the private key is encrypted: a password is needed") from None
        raise KeyMaterialError("the private key is not encrypted: give no password") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyMaterialError(
            "the private key cannot be read: not a PEM private key, or a wrong password"
        ) from None
    return _assemble(loaded, chain_pem)


def _assemble(loaded: object, chain_pem: bytes) -> SigningKey:
    """A signing key from a loaded private key and its PEM chain, checked as in load_key."""
    algorithm = _algorithm_for(loaded)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):  # pragma: no cover
        raise KeyMaterialError("the private key is neither EC nor RSA")
    chain = load_certificates(chain_pem, "certificate chain")
    if _spki(chain[0].public_key()) != _spki(loaded.public_key()):
        raise KeyMaterialError(
            "the private key does not match the first certificate of the chain (the leaf)"
        )
    _check_chain(chain)
    return SigningKey(
        kid=libtrust_kid(chain[0].public_key()),
        algorithm=algorithm,
        private_key=loaded,
        chain=tuple(chain),
    )


# -- persistence ------------------------------------------------------------------------


def chain_pem(chain: Iterable[x509.Certificate]) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain)


def to_stored(
    key: SigningKey,
    state: KeyState,
    created_at: datetime,
    *,
    protector: KeyProtector = PLAINTEXT,
) -> StoredKey:
    """The persisted form of ``key``: PKCS#8 PEM sealed by ``protector`` (unencrypted by
    default; see :mod:`libdockit.keys.crypt`) and the PEM chain.

    An ``active`` key gets ``activated_at`` and a ``retired`` one ``retired_at`` equal to
    ``created_at``.
    """
    return StoredKey(
        kid=key.kid,
        algorithm=key.algorithm,
        private_key_pem=protector.seal(key.private_key),
        certificate_chain_pem=chain_pem(key.chain),
        state=state,
        created_at=created_at,
        not_after=key.not_after,
        activated_at=created_at if state == "active" else None,
        retired_at=created_at if state == "retired" else None,
    )


def from_stored(stored: StoredKey, *, protector: KeyProtector = PLAINTEXT) -> SigningKey:
    """Parse a stored key, unsealed by ``protector``; KeyMaterialError if it is unreadable or
    its kid/algorithm lie, KeyDecryptionError if ``protector`` cannot open it."""
    private_key = protector.unseal(
        stored.private_key_pem, what=f"the private key of stored key {stored.kid}"
    )
    key = _assemble(private_key, stored.certificate_chain_pem)
    if key.kid != stored.kid:
        raise KeyMaterialError(f"stored key {stored.kid} holds a key with another kid")
    if key.algorithm != stored.algorithm:
        raise KeyMaterialError(
            f"stored key {stored.kid} says {stored.algorithm} but is a {key.algorithm} key"
        )
    return key
