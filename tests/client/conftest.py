"""Fixtures for the admin CLI's tests: one real ``dockit api-server`` per module.

Tests share the module's server and keep out of each other's way with uniquely named users,
groups and patterns (:func:`~tests.client.helpers.unique`); a test that grants something to
``anonymous`` or ``authenticated`` revokes it before it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.client.helpers import Cli, unique
from tests.support.dockit import DockitServer

ADMIN = "admin"
ADMIN_PASSWORD = "admin-pw"

MakeUser = Callable[..., str]


@pytest.fixture(scope="module")
def dockit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    """The real ``dockit api-server`` (gunicorn, SQLite) for one module."""
    server = DockitServer(
        tmp_path_factory.mktemp("dockit"), admin_username=ADMIN, admin_password=ADMIN_PASSWORD
    )
    with server:
        yield server


@pytest.fixture(autouse=True)
def no_server_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used the server: it still runs and logged no traceback."""
    yield
    if "dockit" not in request.fixturenames:
        return
    server: DockitServer = request.getfixturevalue("dockit")
    log = server.log()
    assert server.running(), log[-6000:]
    assert "Traceback" not in log, log[-6000:]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    """The CLI in this process, with no server settings (tests add them)."""
    home = tmp_path / "home"
    home.mkdir()
    return Cli(monkeypatch, capsys, home)


@pytest.fixture
def admin_cli(cli: Cli, dockit: DockitServer) -> Cli:
    """The CLI pointed at the module's server as its admin (DOCKIT_USERNAME/PASSWORD)."""
    cli.env.update(
        {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": ADMIN, "DOCKIT_PASSWORD": ADMIN_PASSWORD}
    )
    return cli


@pytest.fixture
def make_user(dockit: DockitServer) -> MakeUser:
    """Create a uniquely named user through the Admin API; returns its name.

    Its password is ``NAME-pw``.
    """

    def make(prefix: str = "user", *, admin: bool = False, enabled: bool = True) -> str:
        name = unique(prefix)
        dockit.create_user(name, f"{name}-pw", admin, enabled=enabled)
        return name

    return make
