"""The certificate bundle the registry trusts (``rootcertbundle``): which certificates go in
it, its PEM, and reading one back the way registry 2.8 does."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..errors import KeyMaterialError
from .material import SigningKey, chain_pem, load_certificates

_BUNDLE_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def bundle_certificates(keys: Iterable[SigningKey]) -> list[x509.Certificate]:
    """The certificates the registry should trust: each key's leaf and, for a longer chain,
    its last certificate (the CA); de-duplicated, in first-seen order."""
    seen: dict[bytes, x509.Certificate] = {}
    for key in keys:
        wanted = [key.chain[0]]
        if len(key.chain) > 1:
            wanted.append(key.chain[-1])
        for cert in wanted:
            seen.setdefault(cert.public_bytes(serialization.Encoding.DER), cert)
    return list(seen.values())


def bundle_pem(certs: Iterable[x509.Certificate]) -> bytes:
    """Certificates as concatenated PEM, the ``rootcertbundle`` format."""
    return chain_pem(certs)


def parse_bundle(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a bundle, checked the way registry 2.8 reads ``rootcertbundle``.

    KeyMaterialError if there is no certificate, one cannot be parsed, or one holds a key
    the registry cannot use (it would refuse to start).
    """
    certificates = load_certificates(pem, "bundle")
    for index, cert in enumerate(certificates, start=1):
        public_key = cert.public_key()
        if isinstance(public_key, rsa.RSAPublicKey):
            continue
        if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
            public_key.curve, _BUNDLE_CURVES
        ):
            continue
        raise KeyMaterialError(
            f"certificate {index} of the bundle holds a key the registry cannot use"
        )
    return certificates
