"""One real ``dockit api-server`` per module, over SQLite in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dockit import DockitServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    # Failed-login throttling is off: the corpus sends hundreds of bad credentials from one
    # address, and each entry must reach the check it is aimed at (its own tests cover it).
    env = {"DOCKIT_LOGIN_MAX_FAILURES": "0"}
    with DockitServer(tmp_path_factory.mktemp("dockit"), workers=1, extra_env=env) as running:
        yield running
