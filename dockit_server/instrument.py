"""Time the backend calls on the token path, for ``dockit_backend_seconds`` and
``dockit_backend_errors_total``: thin wrappers that keep each backend's protocol.

Each wrapper times its call inline against a :class:`~.metrics.BackendTimer` made once per
operation (a token request makes two of these calls; a closure and a label lookup for
each cost about as much as the observation itself)."""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter

from libdockit.backends.base import (
    Authenticator,
    GrantSource,
    GroupSource,
    RememberingAuthenticator,
)
from libdockit.errors import BackendUnavailable
from libdockit.model import Grant, Identity
from libdockit.secret import Secret

from .metrics import Metrics


class TimedAuthenticator:
    def __init__(self, inner: Authenticator, metrics: Metrics, backend: str) -> None:
        self._inner = inner
        self._authenticate_timer = metrics.backend_timer(backend, "authenticate")
        self._remembered_timer = metrics.backend_timer(backend, "remembered")
        # Checked once: isinstance against a runtime-checkable Protocol walks its members
        # (about 7 us), and the inner authenticator does not change.
        self._remembered = (
            inner.remembered_identity if isinstance(inner, RememberingAuthenticator) else None
        )

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        timer = self._authenticate_timer
        started = perf_counter()
        try:
            return self._inner.authenticate(username, password)
        except BackendUnavailable:
            timer.failed()
            raise
        finally:
            timer.observe(perf_counter() - started)

    def remembered_identity(self, username: str, password: Secret) -> Identity | None:
        """The inner authenticator's remembered login (operation ``remembered``)."""
        remembered = self._remembered
        if remembered is None:
            return None
        timer = self._remembered_timer
        started = perf_counter()
        try:
            return remembered(username, password)
        except BackendUnavailable:
            timer.failed()
            raise
        finally:
            timer.observe(perf_counter() - started)


class TimedGroupSource:
    def __init__(self, inner: GroupSource, metrics: Metrics, backend: str) -> None:
        self._inner = inner
        self._timer = metrics.backend_timer(backend, "groups")

    def groups_for(self, username: str) -> tuple[str, ...]:
        timer = self._timer
        started = perf_counter()
        try:
            return self._inner.groups_for(username)
        except BackendUnavailable:
            timer.failed()
            raise
        finally:
            timer.observe(perf_counter() - started)


class TimedGrantSource:
    def __init__(self, inner: GrantSource, metrics: Metrics, backend: str) -> None:
        self._inner = inner
        self._timer = metrics.backend_timer(backend, "grants")

    def grants_for_subjects(self, subjects: Sequence[str]) -> list[Grant]:
        timer = self._timer
        started = perf_counter()
        try:
            return self._inner.grants_for_subjects(subjects)
        except BackendUnavailable:
            timer.failed()
            raise
        finally:
            timer.observe(perf_counter() - started)
