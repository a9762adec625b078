"""Fixtures shared by the backend tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends.statement_log import statements

__all__ = ["db_path", "statements"]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a test's SQLite database file goes."""
    return tmp_path / "dockit.db"
