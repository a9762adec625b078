"""``dockit healthcheck`` against a real ``dockit api-server``, as a container runs it: the same
environment as the server, nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dockit import DockitServer, run_dockit
from tests.support.procs import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    with DockitServer(tmp_path_factory.mktemp("dockit"), workers=1) as running:
        yield running


def _environment(server: DockitServer, bind: str) -> dict[str, str]:
    """The server's environment, with its bind as a setting (as in the image)."""
    env = server.environment()
    env["DOCKIT_BIND"] = bind
    return env


def test_ready_server_is_healthy(server: DockitServer, tmp_path: Path) -> None:
    result = run_dockit(["healthcheck"], env=_environment(server, server.host), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_nothing_listening_is_unhealthy(server: DockitServer, tmp_path: Path) -> None:
    bind = f"127.0.0.1:{free_port()}"
    result = run_dockit(["healthcheck"], env=_environment(server, bind), cwd=tmp_path)
    assert result.returncode == 1
    assert f"http://{bind}/readyz" in result.stderr, result.stderr


def test_a_bad_setting_is_unhealthy_and_named(server: DockitServer, tmp_path: Path) -> None:
    result = run_dockit(["healthcheck"], env=_environment(server, "nowhere"), cwd=tmp_path)
    assert result.returncode == 2
    assert "server.bind" in result.stderr, result.stderr
