"""The in-memory reference backend passes the shared conformance suite."""

from __future__ import annotations

import pytest

from libdockit.backends.memory.audit import MemoryAuditLog
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.testing.conformance import AuditConformance, BackendConformance


class TestMemoryBackend(BackendConformance):
    @pytest.fixture
    def backend(self) -> MemoryBackend:
        return MemoryBackend()


class TestMemoryAuditLogOnItsOwn(AuditConformance):
    """The audit log needs nothing else from the backend, so it also works alone."""

    @pytest.fixture
    def backend(self) -> MemoryAuditLog:
        return MemoryAuditLog()
