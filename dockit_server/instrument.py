"""Time the backend calls on the token path, for ``dockit_backend_seconds`` and
``dockit_backend_errors_total``: thin wrappers that keep each backend's protocol."""

from __future__ import annotations

from collections.abc import Sequence

from libdockit.backends.base import (
    Authenticator,
    GrantSource,
    GroupSource,
    RememberingAuthenticator,
)
from libdockit.model import Grant, Identity
from libdockit.secret import Secret

from .metrics import Metrics


class TimedAuthenticator:
    def __init__(self, inner: Authenticator, metrics: Metrics, backend: str) -> None:
        self._inner = inner
        self._metrics = metrics
        self._backend = backend
        # Checked once: isinstance against a runtime-checkable Protocol walks its members
        # (about 7 us), and the inner authenticator does not change.
        self._remembered = (
            inner.remembered_identity if isinstance(inner, RememberingAuthenticator) else None
        )

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        return self._metrics.time_backend(
            self._backend, "authenticate", lambda: self._inner.authenticate(username, password)
        )

    def remembered_identity(self, username: str, password: Secret) -> Identity | None:
        """The inner authenticator's remembered login (operation ``remembered``)."""
        remembered = self._remembered
        if remembered is None:
            return None
        return self._metrics.time_backend(
            self._backend, "remembered", lambda: remembered(username, password)
        )


class TimedGroupSource:
    def __init__(self, inner: GroupSource, metrics: Metrics, backend: str) -> None:
        self._inner = inner
        self._metrics = metrics
        self._backend = backend

    def groups_for(self, username: str) -> tuple[str, ...]:
        return self._metrics.time_backend(
            self._backend, "groups", lambda: self._inner.groups_for(username)
        )


class TimedGrantSource:
    def __init__(self, inner: GrantSource, metrics: Metrics, backend: str) -> None:
        self._inner = inner
        self._metrics = metrics
        self._backend = backend

    def grants_for_subjects(self, subjects: Sequence[str]) -> list[Grant]:
        return self._metrics.time_backend(
            self._backend, "grants", lambda: self._inner.grants_for_subjects(subjects)
        )
