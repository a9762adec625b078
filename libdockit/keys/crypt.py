"""Private keys at rest: encrypted under a key-encryption secret, or stored as they are.

A :class:`KeyProtector` turns a private key into the PEM a KeyStore keeps (:meth:`seal`) and
back (:meth:`unseal`). Everything that writes a key to a store (``to_stored``, the key
manager, ``ensure_active_key``, the key-file watcher) and everything that reads one
(``from_stored``, :class:`~libdockit.keys.ring.KeyRing`) takes the same protector.

Format. With a secret, a stored key is a standard encrypted PKCS#8 PEM (``ENCRYPTED PRIVATE
KEY``: PBES2 with PBKDF2-HMAC-SHA256, a random salt and IV per key, AES-256-CBC), as
cryptography's ``BestAvailableEncryption`` writes it. Its password is not the secret itself
but a 256-bit key-encryption key derived from it once per protector with scrypt (N=2^15,
r=8, p=1: about 32 MiB and a few tens of milliseconds) and a fixed, versioned salt. Why:
PKCS#8's PBKDF2 runs only 2048 rounds, which makes guessing a weak secret cheap, and it runs
on every key load; a memory-hard derivation done once makes guessing expensive while each
load stays cheap (keys are parsed once per process anyway). The fixed salt means nothing
extra has to be stored next to the keys, at the price that one precomputation could be
tried against many deployments with weak secrets: so the secret must be at least
:data:`MIN_SECRET_LENGTH` characters, and a random one (``openssl rand -base64 32``) is the
advice. To recover a key by hand, :meth:`KeyProtector.pkcs8_password` is the password
``openssl pkey -passin`` wants.

Without a secret keys are stored as unencrypted PKCS#8 PEM. Keys are told apart by their
PEM label, so keys stored before a secret was set still load, and :func:`seal_stored_keys`
re-encrypts them once a secret is set. A stored key that is encrypted while no secret is
set, or that the secret does not open, raises :class:`KeyDecryptionError`: a server should
refuse to start rather than sign with nothing.

Neither the secret nor the derived key nor any key material appears in a ``repr``, a log
line or an error message.
"""

from __future__ import annotations

import base64
import logging

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..backends.base import KeyMaterialStore
from ..errors import KeyMaterialError
from ..secret import Secret

__all__ = [
    "MIN_SECRET_LENGTH",
    "PLAINTEXT",
    "KeyDecryptionError",
    "KeyProtector",
    "seal_stored_keys",
]

log = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 16
_SALT = b"dockit key-encryption secret v1"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SEALED_LABEL = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


class KeyDecryptionError(KeyMaterialError):
    """A stored private key is encrypted and the key-encryption secret is missing or wrong."""


class KeyProtector:
    """Seals private keys for storage and unseals them on load; see the module docs.

    ``KeyProtector()`` (no secret) stores keys unencrypted and still loads unencrypted ones;
    with a secret every key it seals is encrypted and it loads both kinds.
    """

    __slots__ = ("_password",)

    def __init__(self, secret: Secret | None = None) -> None:
        self._password: bytes | None = None
        if secret is None:
            return
        if len(secret.reveal()) < MIN_SECRET_LENGTH:
            raise KeyMaterialError(
                f"the key-encryption secret must be at least {MIN_SECRET_LENGTH} characters"
            )
        derived = Scrypt(salt=_SALT, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(
            secret.reveal().encode("utf-8")
        )
        self._password = base64.urlsafe_b64encode(derived)

    def __repr__(self) -> str:
        return f"KeyProtector(encrypts={self.encrypts})"

    @property
    def encrypts(self) -> bool:
        """True when keys are sealed with a secret."""
        return self._password is not None

    def pkcs8_password(self) -> bytes:
        """The PKCS#8 password of sealed keys (for recovery with openssl); needs a secret."""
        if self._password is None:
            raise KeyMaterialError("there is no key-encryption secret")
        return self._password

    @staticmethod
    def is_sealed(pem: bytes) -> bool:
        """True if ``pem`` is an encrypted PKCS#8 private key."""
        return _SEALED_LABEL in pem

    def needs_sealing(self, pem: bytes) -> bool:
        """True if this protector encrypts and ``pem`` is not encrypted yet."""
        return self.encrypts and not self.is_sealed(pem)

    def seal(self, private_key: PrivateKeyTypes) -> bytes:
        """``private_key`` as PKCS#8 PEM, encrypted when there is a secret."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._password)
            if self._password is not None
            else serialization.NoEncryption()
        )
        return private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def unseal(self, pem: bytes, *, what: str = "the private key") -> PrivateKeyTypes:
        """The private key of a stored PEM, encrypted or not.

        Raises KeyDecryptionError if it is encrypted and there is no secret or the secret
        does not open it, and KeyMaterialError if it is not a private key at all.
        """
        sealed = self.is_sealed(pem)
        if sealed and self._password is None:
            raise KeyDecryptionError(f"{what} is encrypted and no key-encryption secret is set")
        try:
            return serialization.load_pem_private_key(
                pem, password=self._password if sealed else None
            )
        except TypeError:
            raise KeyDecryptionError(
                f"{what} is encrypted in a form Dockit does not write (not PKCS#8)"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            if sealed:
                raise KeyDecryptionError(
                    f"{what} cannot be decrypted with this key-encryption secret"
                ) from None
            raise KeyMaterialError(f"{what} cannot be read: not a PEM private key") from None

    def reseal(self, pem: bytes, *, what: str = "the private key") -> bytes:
        """``pem`` sealed by this protector (same key, new wrapping)."""
        return self.seal(self.unseal(pem, what=what))


#: Stores keys unencrypted; the default wherever a protector is optional.
PLAINTEXT = KeyProtector()


def seal_stored_keys(store: KeyMaterialStore, protector: KeyProtector) -> list[str]:
    """Check that ``protector`` opens every stored key and encrypt those stored unencrypted.

    Returns the kids it re-encrypted (none without a secret). Raises KeyDecryptionError,
    naming the key, if one is encrypted and cannot be opened, before changing anything.
    A stored key that is not a private key at all is logged and left alone (the key ring
    leaves it out, as before). Running it twice, or in two processes at once, is harmless:
    each write stores the same key.
    """
    to_seal: list[tuple[str, bytes]] = []
    for stored in store.list_keys():
        what = f"the private key of stored key {stored.kid}"
        try:
            private_key = protector.unseal(stored.private_key_pem, what=what)
        except KeyDecryptionError:
            raise
        except KeyMaterialError as exc:
            log.error("stored key %s cannot be used and is left as it is: %s", stored.kid, exc)
            continue
        if protector.needs_sealing(stored.private_key_pem):
            to_seal.append((stored.kid, protector.seal(private_key)))
    for kid, pem in to_seal:
        store.replace_private_key_pem(kid, pem)
        log.info("encrypted the stored private key of %s with the key-encryption secret", kid)
    return [kid for kid, _ in to_seal]
