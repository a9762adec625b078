"""The timed backend wrappers: every call observed under its operation, a backend that
cannot answer counted as an error (and still raised), no series before the first call."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dockit_server.instrument import TimedAuthenticator, TimedGrantSource, TimedGroupSource
from dockit_server.metrics import Metrics
from libdockit.errors import BackendUnavailable
from libdockit.model import Grant, Identity
from libdockit.secret import Secret
from tests.support.promtext import sample_value

ALICE = Identity(username="alice")


class Directory:
    """Answers, or fails like a directory that cannot be reached, as told."""

    def __init__(self) -> None:
        self.down = False

    def _answer(self) -> None:
        if self.down:
            raise BackendUnavailable("the directory did not answer")

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        self._answer()
        return ALICE if password.reveal() == "pw" else None

    def remembered_identity(self, username: str, password: Secret) -> Identity | None:
        self._answer()
        return None

    def groups_for(self, username: str) -> tuple[str, ...]:
        self._answer()
        return ("devs",)

    def grants_for_subjects(self, subjects: Sequence[str]) -> list[Grant]:
        self._answer()
        return []


def _count(metrics: Metrics, name: str, operation: str) -> float | None:
    text = metrics.exposition().decode()
    return sample_value(text, name, backend="ldap", operation=operation)


def test_calls_are_timed_by_operation_and_failures_counted() -> None:
    metrics = Metrics()
    directory = Directory()
    auth = TimedAuthenticator(directory, metrics, "ldap")
    groups = TimedGroupSource(directory, metrics, "ldap")
    grants = TimedGrantSource(directory, metrics, "ldap")
    for operation in ("authenticate", "remembered", "groups", "grants"):
        assert _count(metrics, "dockit_backend_seconds_count", operation) is None

    assert auth.authenticate("alice", Secret("pw")) == ALICE
    assert auth.authenticate("alice", Secret("wrong")) is None
    assert auth.remembered_identity("alice", Secret("pw")) is None
    assert groups.groups_for("alice") == ("devs",)
    assert grants.grants_for_subjects(["user:alice"]) == []
    assert _count(metrics, "dockit_backend_seconds_count", "authenticate") == 2
    assert _count(metrics, "dockit_backend_seconds_count", "remembered") == 1
    assert _count(metrics, "dockit_backend_seconds_count", "groups") == 1
    assert _count(metrics, "dockit_backend_seconds_count", "grants") == 1
    assert _count(metrics, "dockit_backend_errors_total", "authenticate") is None

    directory.down = True
    with pytest.raises(BackendUnavailable):
        auth.authenticate("alice", Secret("pw"))
    with pytest.raises(BackendUnavailable):
        groups.groups_for("alice")
    assert _count(metrics, "dockit_backend_errors_total", "authenticate") == 1
    assert _count(metrics, "dockit_backend_errors_total", "groups") == 1
    assert _count(metrics, "dockit_backend_errors_total", "grants") is None
    assert _count(metrics, "dockit_backend_seconds_count", "authenticate") == 3
    assert _count(metrics, "dockit_backend_seconds_count", "groups") == 2
