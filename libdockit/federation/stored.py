"""Trust policies read from a store, for every process serving tokens.

:class:`StoredFederation` keeps a :class:`~.logins.Federation` built from the store's
policies and the store's ``trust_policy_version`` it was read under. Each federated login
reads the version (on SQL one read by primary key, the one the grant caches use) and
rebuilds only when it moved, so a policy added, changed or deleted through any instance or
worker counts from the next login. A store that cannot
tell its version (None) is reread at most every ``reload_seconds``.

The version is read before the policies, as :mod:`libdockit.backends.sql.cache` explains:
policies read after it are as new as it or newer, never older.

The issuers' keys live in one :class:`~.logins.IssuerKeys` for the life of the object, so
a reload neither refetches keys nor forgets the cached ones that keep an unreachable
issuer's tokens working; an issuer no policy names any more is forgotten.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from ..backends.trust_store import TrustPolicyStore
from ..clock import Clock, utc_now
from .jwks import Fetch, fetch_url
from .logins import Federation, IssuerKeys
from .trust import TrustPolicy

__all__ = ["FederationOptions", "StoredFederation"]

_PAGE = 500


@dataclass(frozen=True, slots=True)
class FederationOptions:
    """How federated logins fetch and keep issuers' keys and reread the store's policies."""

    #: How long fetched keys are trusted without a refetch (and outlive an issuer outage).
    key_max_age: timedelta = timedelta(hours=1)
    #: The least time between two refetches an unknown ``kid`` may cause.
    min_refetch_interval: timedelta = timedelta(seconds=30)
    #: For a store that cannot tell its version: how often the policies are reread.
    reload_seconds: float = 5.0
    #: How discovery documents and JWKS are fetched (https, or http to loopback).
    fetch: Fetch = fetch_url


@dataclass(frozen=True, slots=True)
class _Snapshot:
    version: int | None
    loaded_at: float
    federation: Federation = field(compare=False)


class StoredFederation:
    """The store's trust policies as a :class:`~.exchange.FederationSource` (see the
    module docs)."""

    def __init__(
        self,
        store: TrustPolicyStore,
        options: FederationOptions | None = None,
        *,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        options = options or FederationOptions()
        self._store = store
        self._reload_seconds = options.reload_seconds
        self._monotonic = monotonic
        self._issuers = IssuerKeys(
            fetch=options.fetch,
            clock=clock,
            max_age=options.key_max_age,
            min_refetch_interval=options.min_refetch_interval,
        )
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()

    def current(self) -> Federation:
        """The policies in force now: those cached, unless the store's version moved."""
        version = self._store.trust_policy_version()
        snapshot = self._snapshot
        if snapshot is not None and self._still_good(snapshot, version):
            return snapshot.federation
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and self._still_good(snapshot, version):
                return snapshot.federation
            policies = self._read_all()
            federation = Federation(policies, issuers=self._issuers)
            self._issuers.keep_only(p.issuer for p in policies if p.static_jwks is None)
            self._snapshot = _Snapshot(version, self._monotonic(), federation)
            return federation

    def _still_good(self, snapshot: _Snapshot, version: int | None) -> bool:
        if version is not None:
            return snapshot.version == version
        return self._monotonic() - snapshot.loaded_at < self._reload_seconds

    def _read_all(self) -> list[TrustPolicy]:
        policies: list[TrustPolicy] = []
        while True:
            page = self._store.list_trust_policies(offset=len(policies), limit=_PAGE)
            policies.extend(page.items)
            if not page.items or len(policies) >= page.total:
                return policies
