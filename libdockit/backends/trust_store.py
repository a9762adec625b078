"""The contract of workload-identity trust policies (see :mod:`libdockit.federation`), one
of the protocols :class:`~libdockit.backends.base.Store` combines (re-exported there; the
shared contracts in that module's docstring hold here too).

Policies are kept by name, like grants by id: the Admin API writes them, and every process
serving tokens reads them through a cache that :meth:`TrustPolicyStore.trust_policy_version`
tells when to drop (:class:`libdockit.federation.stored.StoredFederation`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..model import Page

if TYPE_CHECKING:  # the records' module imports the token path, which imports backends
    from ..federation.trust import TrustPolicy


@runtime_checkable
class TrustPolicyStore(Protocol):
    """Trust policies by name (names are normalised, like user names)."""

    def add_trust_policy(self, policy: TrustPolicy) -> TrustPolicy:
        """Store a new policy and return it; Conflict if its name is taken."""
        ...

    def get_trust_policy(self, name: str) -> TrustPolicy:
        """The policy named ``name``; NotFound if there is none."""
        ...

    def list_trust_policies(self, *, offset: int = 0, limit: int = 100) -> Page[TrustPolicy]:
        """Policies by name, in code point order."""
        ...

    def replace_trust_policy(self, policy: TrustPolicy) -> TrustPolicy:
        """Replace the policy of ``policy.name`` with ``policy``; NotFound if there is none."""
        ...

    def delete_trust_policy(self, name: str) -> TrustPolicy:
        """Delete the policy named ``name`` and return it; NotFound if there is none."""
        ...

    def trust_policy_version(self) -> int | None:
        """A number that changes whenever a trust policy is added, replaced or deleted (it
        may change on other writes too); None when the store cannot tell, and then callers
        reread the policies after a while instead."""
        ...
