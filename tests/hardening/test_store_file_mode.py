"""The SQLite store holds password hashes and private keys: every way of creating it makes
it 0600 (``bootstrap-admin`` as well as ``api-server``, and SQLite's ``-wal``/``-shm`` files),
and ``api-server`` repairs a store that others can read before it serves."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.client.helpers import run_cli
from tests.support.dockit import DockitServer, base_env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def store_files(database: Path) -> list[Path]:
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    return [file for file in files if file.exists()]


def test_bootstrap_admin_creates_a_private_store(tmp_path: Path) -> None:
    database = tmp_path / "new" / "dockit.db"
    database.parent.mkdir()
    env = {**base_env(tmp_path), "DOCKIT_DATABASE_URL": f"sqlite:///{database}"}
    old_umask = os.umask(0o022)  # what most shells have: new files 0644
    try:
        made = run_cli(["bootstrap-admin", "root"], env=env, cwd=tmp_path, stdin="root-strong-pw")
    finally:
        os.umask(old_umask)
    assert made.code == 0, made
    assert {file.name: mode(file) for file in store_files(database)} == {
        file.name: 0o600 for file in store_files(database)
    }
    assert database.exists()


def test_the_server_repairs_a_store_others_can_read(tmp_path: Path) -> None:
    server = DockitServer(tmp_path, workers=1)
    with server:
        server.create_user("carol", "carol-strong-pw")
        files = store_files(server.database_path)
        assert {mode(file) for file in files} == {0o600}
        assert len(files) == 3  # WAL mode: the -wal and -shm files exist while serving
    for file in store_files(server.database_path):
        file.chmod(0o644)
    server.restart()
    try:
        assert {mode(file) for file in store_files(server.database_path)} == {0o600}
        assert "made it 0600" in server.log()
        assert server.token("registry.test", [], ("carol", "carol-strong-pw")).status == 200
    finally:
        server.stop()
