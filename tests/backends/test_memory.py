"""The in-memory reference backend passes the shared conformance suite."""

from __future__ import annotations

import pytest

from libdockit.backends.memory import MemoryBackend
from libdockit.testing.conformance import BackendConformance


class TestMemoryBackend(BackendConformance):
    @pytest.fixture
    def backend(self) -> MemoryBackend:
        return MemoryBackend()
