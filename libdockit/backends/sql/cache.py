"""Per-process caches of what the token path reads on every request: each user's enabled
groups and each subject's grants.

Every entry belongs to a *policy version*, the one row of ``policy_version``: every
transaction that writes users, groups, memberships or grants steps it before anything else
(:meth:`~libdockit.backends.sql.session.SqlSession._policy_write`), and every lookup reads it
before it trusts an entry (a login reads it in the same statement as the user's row). So a
change made by another process, or another machine on the same PostgreSQL, is seen on the
next request, and a warm request costs one or two reads by primary key instead of a join per
table.

The version is always read *before* the data it guards. Data read after the version can
only be as new as that version or newer; filed under the older number, it is dropped as soon
as any request reads the newer one. The other order could file old data under a new number
and keep it, so no code path may read the data first.

A database whose ``policy_version`` row is missing (version None) is read afresh every time.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class VersionedCache(Generic[K, V]):
    """Values valid for one policy version; a lookup under another version misses, and
    storing under another version first drops everything held.

    At most ``max_entries`` values; the oldest go first.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._max = max_entries
        self._version: int | None = None
        self._entries: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, version: int | None, key: K) -> V | None:
        if version is None or version != self._version:
            return None
        return self._entries.get(key)

    def put(self, version: int | None, key: K, value: V) -> None:
        if version is None:
            return
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            self._entries[key] = value
            while len(self._entries) > self._max:
                del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)
