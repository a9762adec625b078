"""The collaborators the HTTP layer needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libdockit.admin import AdminService
from libdockit.assembly import Dockit
from libdockit.audit import Auditor
from libdockit.backends.base import HealthCheck
from libdockit.credential_admin import CredentialAdmin
from libdockit.keys.manager import KeyManager
from libdockit.service import TokenService

from .client_address import Network
from .errors import DEFAULT_REALM
from .metrics import Metrics
from .middleware import ConnectionHolder


@dataclass(frozen=True, slots=True)
class Components:
    tokens: TokenService
    admin: AdminService
    health: HealthCheck
    key_manager: KeyManager
    #: Robot accounts and personal access tokens.
    credentials: CredentialAdmin
    #: Realm named in the ``WWW-Authenticate: Basic`` challenge of every 401.
    realm: str = DEFAULT_REALM
    #: Serve ``/metrics`` and count token requests; None turns metrics off.
    metrics: Metrics | None = None
    #: One JSON access-log line per request on the ``dockit.access`` logger.
    json_logs: bool = False
    #: Records admin changes (token decisions: the TokenService's own); None: not recorded.
    audit: Auditor | None = None
    #: Reverse proxies whose X-Forwarded-For names the client (see client_address).
    trusted_proxies: tuple[Network, ...] = ()
    #: Holds one store connection for a whole request (an SqlBackend); None: one per call.
    store_connection: ConnectionHolder | None = None

    @classmethod
    def of(cls, dockit: Dockit, *, health: HealthCheck | None = None, **serving: Any) -> Components:
        """The HTTP layer's view of an assembled Dockit (:func:`libdockit.assembly.assemble`);
        ``health`` defaults to the store, ``serving`` sets the other fields."""
        return cls(
            tokens=dockit.tokens,
            admin=dockit.admin,
            health=health if health is not None else dockit.store,
            key_manager=dockit.key_manager,
            credentials=dockit.credentials,
            audit=dockit.auditor,
            **serving,
        )
