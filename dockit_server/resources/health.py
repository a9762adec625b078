"""``/healthz`` (the process answers) and ``/readyz`` (store reachable, a key can sign, and
the LDAP directory when one is configured).

The directory is *reported* as ``checks.directory`` but by default does not make Dockit
unready: local users (robots, break-glass accounts) and anonymous pulls still work while it
is down, and taking every replica out of the load balancer because the directory blinked
would turn a partial outage into a full one. ``ldap.ready_requires_directory = true`` makes it
required. With an optional check failing, ``status`` is ``degraded`` and the answer is 200.

``checks.certificates`` (added by :func:`with_certificate_expiry`) works the same way: when
the certificate of the active key or of a pending one expires within
``keys.expiry_warning_days``, it says which and when, ``status`` is ``degraded`` and the
answer stays 200 (the key still signs; an expired active key fails ``signing_key``, 503).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import falcon

from libdockit.backends.base import HealthCheck
from libdockit.errors import DockitError, KeyMaterialError
from libdockit.keys.material import SigningKey
from libdockit.keys.ring import KeyRing


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


class CertificateExpiry:
    """Fails (as a warning: use it with ``required=False``) when the active key's or a
    pending key's certificate expires within ``warning``; retired keys do not matter."""

    def __init__(
        self,
        keys: KeyRing,
        warning: timedelta,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._keys = keys
        self._warning = warning
        self._clock = clock

    def ping(self) -> None:
        now = self._clock()
        keys: list[tuple[str, SigningKey]] = [("pending", key) for key in self._keys.pending()]
        # No active key, or an expired one, is the signing_key check's to report.
        with contextlib.suppress(KeyMaterialError):
            keys.insert(0, ("active", self._keys.active()))
        soon = []
        for role, key in keys:
            left = key.not_after - now
            if left > self._warning:
                continue
            when = "expired" if left <= timedelta(0) else "expires"
            soon.append(
                f"the certificate of {role} key {key.kid} {when} at "
                f"{key.not_after.isoformat()} ({left.total_seconds() / 86400:.1f} days left)"
            )
        if soon:
            advice = "rotate it (dockit keys rotate) or renew its certificate"
            raise KeyMaterialError("; ".join(soon) + ": " + advice)


def with_certificate_expiry(health: HealthCheck, keys: KeyRing, warning_days: int) -> HealthCheck:
    """``health`` plus an optional ``certificates`` check; ``warning_days`` 0 adds none."""
    if warning_days <= 0:
        return health
    named = health.checks if isinstance(health, ReadinessChecks) else (NamedCheck("store", health),)
    expiry = CertificateExpiry(keys, timedelta(days=warning_days))
    return ReadinessChecks([*named, NamedCheck("certificates", expiry, required=False)])


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
