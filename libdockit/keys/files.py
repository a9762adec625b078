"""A key brought in files (``key_file`` + ``cert_file``), taken again when they change.

For cert-manager style renewal: something rewrites the private key and the certificate
chain (leaf first, then intermediates) in place, and Dockit starts signing with the new
key without a restart. :class:`KeyFiles` is a :class:`~libdockit.keys.ring.KeySource`: the key
ring calls :meth:`KeyFiles.check` on its refresh path (at most once per refresh interval,
never per request), which costs two ``stat`` calls unless a file changed.

A change is seen through each file's (mtime, size, inode), following symlinks, so a
Kubernetes secret volume swapping its ``..data`` link counts. When the pair changed and
holds a valid key whose certificate is in its validity period:

* a key not yet in the store is stored *pending* (another process storing it first, a
  Conflict, means someone else did it);
* a pending key is then activated (the previous active key is retired and stays published
  for the retired-key grace) **if the registries already trust it**: the top certificate
  of its chain, the one the bundle carries, is already published for another key. That is
  the renewal case (same CA, new leaf): a registry verifies the new ``x5c`` against the CA
  it read at start, so no registry restart is needed.
* a key whose top certificate is new (a self-signed leaf, another CA) stays pending, with a
  warning: activating it before the registries restart with the new bundle would make them
  refuse every new token. Run the init step, restart the registries, then activate it
  (``dockit keys activate KID``).
* an active key is left alone; a retired one is not brought back (an admin retired it).

Files that cannot be read, do not match, hold a bad chain or an expired certificate are
logged (never their content) and the current key keeps signing; the same broken pair is
logged once, and checked again when the files change. A certificate that is not valid yet
is checked again on every refresh until it is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..backends.base import KeyStore
from ..clock import Clock, utc_now
from ..errors import Conflict, DockitError, KeyMaterialError
from ..model import StoredKey
from .bundle import bundle_certificates
from .crypt import PLAINTEXT, KeyProtector
from .material import SigningKey, load_key, to_stored

__all__ = ["KeyFiles"]

log = logging.getLogger(__name__)

_Stat = tuple[int, int, int] | str
_Signature = tuple[_Stat, _Stat]


def _stat(path: Path) -> _Stat:
    try:
        result = os.stat(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    return (result.st_mtime_ns, result.st_size, result.st_ino)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


class KeyFiles:
    """Watches a PEM private key and a PEM chain; see the module docs.

    ``protector`` seals the key when it is stored; ``clock`` judges certificate validity and
    times the store changes.
    """

    def __init__(
        self,
        key_file: Path,
        cert_file: Path,
        *,
        store: KeyStore,
        protector: KeyProtector = PLAINTEXT,
        clock: Clock = utc_now,
    ) -> None:
        self.key_file = Path(key_file)
        self.cert_file = Path(cert_file)
        self._store = store
        self._protector = protector
        self._clock = clock
        self._seen: _Signature | None = None
        self._last_problem: str | None = None

    def __repr__(self) -> str:
        return f"KeyFiles({str(self.key_file)!r}, {str(self.cert_file)!r})"

    # -- KeySource ----------------------------------------------------------------------
    def check(self, published: Sequence[SigningKey]) -> bool:
        signature = (_stat(self.key_file), _stat(self.cert_file))
        if signature == self._seen:
            return False
        self._seen = signature
        try:
            key = self._load()
        except KeyMaterialError as exc:
            self._problem(f"not used, the current key keeps signing: {exc.message}")
            return False
        now = self._clock()
        if key.not_after <= now:
            self._problem(
                f"not used, the current key keeps signing: the certificate of key {key.kid} "
                f"expired at {key.not_after.isoformat()}"
            )
            return False
        if key.not_before > now:
            self._seen = None  # look again next time: it becomes valid without a file change
            self._problem(
                f"key {key.kid} is not used yet: its certificate is valid from "
                f"{key.not_before.isoformat()}",
                level=logging.WARNING,
            )
            return False
        self._last_problem = None
        try:
            return self._install(key, published)
        except DockitError:
            self._seen = None  # e.g. the store is down: try again at the next refresh
            raise

    # -- internals ----------------------------------------------------------------------
    def _load(self) -> SigningKey:
        contents: list[bytes] = []
        for path in (self.key_file, self.cert_file):
            try:
                contents.append(path.read_bytes())
            except OSError as exc:
                raise KeyMaterialError(f"cannot read {path}: {exc.strerror}") from None
        return load_key(contents[0], contents[1])

    def _problem(self, message: str, *, level: int = logging.ERROR) -> None:
        if message != self._last_problem:
            log.log(level, "key files %s and %s: %s", self.key_file, self.cert_file, message)
        self._last_problem = message

    def _find(self, kid: str) -> StoredKey | None:
        return next((stored for stored in self._store.list_keys() if stored.kid == kid), None)

    def _install(self, key: SigningKey, published: Sequence[SigningKey]) -> bool:
        existing = self._find(key.kid)
        if existing is not None and existing.state == "active":
            return False
        if existing is not None and existing.state == "retired":
            self._problem(
                f"key {key.kid} was retired: it is not activated again; "
                "replace the files with a new key",
                level=logging.WARNING,
            )
            return False
        now = self._clock()
        changed = False
        if existing is None:
            try:
                self._store.add_key(to_stored(key, "pending", now, protector=self._protector))
                changed = True
                log.info("stored key %s from %s", key.kid, self.cert_file)
            except Conflict:
                log.info("key %s from %s was stored by another process", key.kid, self.cert_file)
        others = (other for other in published if other.kid != key.kid)
        anchors = {_der(cert) for cert in bundle_certificates(others)}
        if _der(key.chain[-1]) not in anchors:
            self._problem(
                f"key {key.kid} stays pending: the top certificate of its chain is not in the "
                "published bundle yet. Run the init step, restart the registries, then "
                f"activate it (dockit keys activate {key.kid})",
                level=logging.WARNING,
            )
            return changed
        self._store.set_key_state(key.kid, "active", now)
        log.info("activated key %s from %s; the previous key is retired", key.kid, self.cert_file)
        return True
