"""The one behaviour every backend must have, as tests: subclass and supply ``backend``.

::

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def backend(self) -> Iterator[MyBackend]:
            store = MyBackend(...)  # fresh and empty, schema in place
            yield store
            store.close()

:class:`BackendConformance` does not start with ``Test`` so pytest only collects it through
such subclasses. Every test goes through the public protocol methods only; the in-memory
backend is the reference these tests were written against.

The tests live in one mixin per concern (``users``, ``groups``, ``grants``, ``keys``,
``audit``, ``refresh_tokens``, ``login_failures``, ``shared_store``, ``concurrency``), which
:class:`BackendConformance` combines (``access_credentials``: robots and personal access
tokens; ``trust_policies``: workload-identity federation).
A store that implements only some protocols can subclass just those mixins, e.g. an audit
log on its own: ``class TestMyAuditLog(AuditConformance)``. This is a package, so the
``register_assert_rewrite("libdockit.testing.conformance")`` in a conftest covers every
mixin module.
"""

from __future__ import annotations

from .access_credentials import AccessCredentialConformance, make_credential
from .audit import AuditConformance
from .concurrency import HealthAndConcurrencyConformance
from .grants import GrantConformance
from .groups import GroupConformance
from .keys import KeyConformance
from .login_failures import LoginFailureConformance
from .refresh_tokens import RefreshTokenConformance
from .shared_store import SharedStoreConformance
from .support import (
    AWKWARD_NAMES,
    STORED_HASH,
    T0,
    ConformingBackend,
    UsersAndRefreshTokens,
    in_threads,
    make_event,
    make_grant,
    make_key,
    make_refresh_token,
    token_hash,
)
from .trust_policies import TrustPolicyConformance, full_trust_policy, make_trust_policy
from .users import UserConformance

__all__ = [
    "AWKWARD_NAMES",
    "STORED_HASH",
    "T0",
    "AccessCredentialConformance",
    "AuditConformance",
    "BackendConformance",
    "ConformingBackend",
    "GrantConformance",
    "GroupConformance",
    "HealthAndConcurrencyConformance",
    "KeyConformance",
    "LoginFailureConformance",
    "RefreshTokenConformance",
    "SharedStoreConformance",
    "TrustPolicyConformance",
    "UserConformance",
    "UsersAndRefreshTokens",
    "full_trust_policy",
    "in_threads",
    "make_credential",
    "make_event",
    "make_grant",
    "make_key",
    "make_refresh_token",
    "make_trust_policy",
    "token_hash",
]


class BackendConformance(
    UserConformance,
    AccessCredentialConformance,
    TrustPolicyConformance,
    GroupConformance,
    GrantConformance,
    KeyConformance,
    AuditConformance,
    RefreshTokenConformance,
    LoginFailureConformance,
    SharedStoreConformance,
    HealthAndConcurrencyConformance,
):
    """Subclass as ``Test...`` and provide a ``backend`` fixture returning a fresh backend."""
