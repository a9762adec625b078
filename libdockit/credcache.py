"""Remember, for a short time, that a password matched a stored hash.

argon2id is slow on purpose, and a CI pull storm presents the same credentials hundreds of
times a minute. After one successful check the pair is remembered under a keyed hash —
keyed BLAKE2b (a MAC by design, RFC 7693; a third of HMAC-SHA256's cost here) with a random
per-process key of (username, stored hash, password) — so neither the password nor anything
an attacker could test offline is kept. Because the stored hash is part of the key, a
password change invalidates the entry at once, in every process that reads the new hash;
disabled and deleted users are checked on every request anyway, since the user row is read
before the cache is consulted.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from .secret import Secret


class VerifiedCredentials:
    """A bounded, expiring set of (username, stored hash, password) triples known to match."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 60.0,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be positive")
        self._ttl = ttl_seconds
        self._max = max_entries
        self._monotonic = monotonic
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, username: str, password_hash: str, password: Secret) -> bytes:
        message = b"\0".join(
            (username.encode(), password_hash.encode(), password.reveal().encode())
        )
        return hashlib.blake2b(message, key=self._key, digest_size=32).digest()

    def matches(self, username: str, password_hash: str, password: Secret) -> bool:
        """True if this exact triple was verified less than ``ttl_seconds`` ago."""
        digest = self._digest(username, password_hash, password)
        now = self._monotonic()
        with self._lock:
            expires = self._entries.get(digest)
            if expires is None:
                return False
            if expires <= now:
                del self._entries[digest]
                return False
            self._entries.move_to_end(digest)
            return True

    def remember(self, username: str, password_hash: str, password: Secret) -> None:
        digest = self._digest(username, password_hash, password)
        with self._lock:
            self._entries[digest] = self._monotonic() + self._ttl
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
