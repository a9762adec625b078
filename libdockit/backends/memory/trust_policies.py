"""Trust policies in memory: the TrustPolicyStore of
:class:`~libdockit.backends.memory.MemoryBackend`. Kept by name; the version counts every
change."""

from __future__ import annotations

import threading

from ...errors import Conflict, NotFound
from ...federation.trust import TrustPolicy
from ...model import Page


class MemoryTrustPolicies:
    """Implements TrustPolicyStore."""

    def __init__(self, lock: threading.RLock) -> None:
        self._trust_lock = lock
        self._trust_policies: dict[str, TrustPolicy] = {}
        self._trust_version = 0

    def add_trust_policy(self, policy: TrustPolicy) -> TrustPolicy:
        with self._trust_lock:
            if policy.name in self._trust_policies:
                raise Conflict(f"trust policy {policy.name!r} exists already")
            self._trust_policies[policy.name] = policy
            self._trust_version += 1
            return policy

    def get_trust_policy(self, name: str) -> TrustPolicy:
        with self._trust_lock:
            policy = self._trust_policies.get(name)
        if policy is None:
            raise NotFound(f"trust policy {name!r} not found")
        return policy

    def list_trust_policies(self, *, offset: int = 0, limit: int = 100) -> Page[TrustPolicy]:
        with self._trust_lock:
            ordered = [self._trust_policies[name] for name in sorted(self._trust_policies)]
        start = max(offset, 0)
        return Page(ordered[start : start + max(limit, 0)], len(ordered))

    def replace_trust_policy(self, policy: TrustPolicy) -> TrustPolicy:
        with self._trust_lock:
            if policy.name not in self._trust_policies:
                raise NotFound(f"trust policy {policy.name!r} not found")
            self._trust_policies[policy.name] = policy
            self._trust_version += 1
            return policy

    def delete_trust_policy(self, name: str) -> TrustPolicy:
        with self._trust_lock:
            policy = self._trust_policies.pop(name, None)
            if policy is None:
                raise NotFound(f"trust policy {name!r} not found")
            self._trust_version += 1
            return policy

    def trust_policy_version(self) -> int | None:
        return self._trust_version
