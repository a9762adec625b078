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

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        return self._metrics.time_backend(
            self._backend, "authenticate", lambda: self._inner.authenticate(username, password)
        )

    def remembered_identity(self, username: str, password: Secret) -> Identity | None:
        """The inner authenticator's remembered login (operation ``remembered``)."""
        inner = self._inner
        if not isinstance(inner, RememberingAuthenticator):
            return None
        return self._metrics.time_backend(
            self._backend, "remembered", lambda: inner.remembered_identity(username, password)
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
