"""A small PKI for tests: CAs, intermediates and leaves, chains of any depth.

>>> root = make_ca()
>>> leaf = issue_leaf(make_ca("Intermediate", issuer=root))
>>> key = leaf.signing_key()           # chain: leaf, intermediate, root
>>> len(key.chain)
3

Not for production: keys are unencrypted and names are fixed test names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ..keys.material import Algorithm, PrivateKey, SigningKey, load_key

__all__ = ["Issued", "issue_leaf", "make_ca", "make_chain", "new_private_key"]


@dataclass(frozen=True)
class Issued:
    """A private key, its certificate and the certificates above it (nearest first)."""

    private_key: PrivateKey
    certificate: x509.Certificate
    issuers: tuple[x509.Certificate, ...] = ()

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """This certificate, then each issuer up to the root."""
        return (self.certificate, *self.issuers)

    @property
    def root(self) -> x509.Certificate:
        return self.chain[-1]

    def key_pem(self, password: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password is not None
            else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def chain_pem(self, *, include_root: bool = True) -> bytes:
        chain = self.chain if include_root or len(self.chain) == 1 else self.chain[:-1]
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain)

    def signing_key(self, *, include_root: bool = True) -> SigningKey:
        """This leaf as a :class:`~libdockit.keys.material.SigningKey` through ``load_key``."""
        return load_key(self.key_pem(), self.chain_pem(include_root=include_root))


def new_private_key(algorithm: Algorithm = "ES256", *, rsa_key_size: int = 2048) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _build(
    *,
    common_name: str,
    private_key: PrivateKey,
    issuer: Issued | None,
    ca: bool,
    now: datetime | None,
    validity: timedelta,
) -> Issued:
    start = now if now is not None else datetime.now(UTC)
    public_key = private_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.certificate.subject if issuer is not None else _name(common_name))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - timedelta(minutes=5))
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_key_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    signer = private_key if issuer is None else issuer.private_key
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()),
            critical=False,
        )
    certificate = builder.sign(signer, hashes.SHA256())
    issuers = issuer.chain if issuer is not None else ()
    return Issued(private_key=private_key, certificate=certificate, issuers=issuers)


def make_ca(
    common_name: str = "Dockit Test Root CA",
    *,
    issuer: Issued | None = None,
    algorithm: Algorithm = "ES256",
    now: datetime | None = None,
    validity: timedelta = timedelta(days=3650),
) -> Issued:
    """A self-signed root CA, or an intermediate CA when ``issuer`` is given."""
    return _build(
        common_name=common_name,
        private_key=new_private_key(algorithm),
        issuer=issuer,
        ca=True,
        now=now,
        validity=validity,
    )


def issue_leaf(
    issuer: Issued,
    *,
    common_name: str = "dockit-test-signer",
    algorithm: Algorithm = "ES256",
    now: datetime | None = None,
    validity: timedelta = timedelta(days=365),
    private_key: PrivateKey | None = None,
) -> Issued:
    """A signing (non-CA) certificate issued by ``issuer``, for a new or given key."""
    return _build(
        common_name=common_name,
        private_key=private_key if private_key is not None else new_private_key(algorithm),
        issuer=issuer,
        ca=False,
        now=now,
        validity=validity,
    )


def make_chain(
    depth: int = 2,
    *,
    algorithm: Algorithm = "ES256",
    now: datetime | None = None,
    leaf_validity: timedelta = timedelta(days=365),
) -> Issued:
    """A leaf under ``depth`` CAs: 1 is root → leaf, 2 is root → intermediate → leaf, ..."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    authority = make_ca(algorithm=algorithm, now=now)
    for level in range(1, depth):
        authority = make_ca(
            f"Dockit Test Intermediate CA {level}", issuer=authority, algorithm=algorithm, now=now
        )
    return issue_leaf(authority, algorithm=algorithm, now=now, validity=leaf_validity)
