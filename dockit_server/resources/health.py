"""``/healthz`` (the process answers) and ``/readyz`` (store reachable, a key can sign, and
the LDAP directory when one is configured).

The directory is *reported* as ``checks.directory`` but by default does not make Dockit
unready: local users (robots, break-glass accounts) and anonymous pulls still work while it
is down, and taking every replica out of the load balancer because the directory blinked
would turn a partial outage into a full one. ``ldap.ready_requires_directory = true`` makes it
required. With an optional check failing, ``status`` is ``degraded`` and the answer is 200.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import falcon

from libdockit.backends.base import HealthCheck
from libdockit.errors import DockitError
from libdockit.keyring import KeyRing


@dataclass(frozen=True, slots=True)
class NamedCheck:
    name: str
    check: HealthCheck
    #: False: reported in /readyz but never makes it answer 503.
    required: bool = True


class ReadinessChecks:
    """A HealthCheck made of named checks, each reported by name in ``/readyz``.

    :meth:`ping` raises the first failure of a *required* check.
    """

    def __init__(self, checks: Sequence[NamedCheck]) -> None:
        self.checks = tuple(checks)

    def ping(self) -> None:
        for named in self.checks:
            if named.required:
                named.check.ping()


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class _SigningKey:
    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    def ping(self) -> None:
        self._keys.active()


class ReadyResource:
    def __init__(self, store: HealthCheck, keys: KeyRing) -> None:
        named = (
            store.checks if isinstance(store, ReadinessChecks) else (NamedCheck("store", store),)
        )
        self._checks = (*named, NamedCheck("signing_key", _SigningKey(keys)))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks: dict[str, str] = {}
        ready, degraded = True, False
        for named in self._checks:
            try:
                named.check.ping()
                checks[named.name] = "ok"
            except DockitError as exc:
                checks[named.name] = exc.message
                if named.required:
                    ready = False
                else:
                    degraded = True
        status = "unavailable" if not ready else "degraded" if degraded else "ok"
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.media = {"status": status, "checks": checks}
