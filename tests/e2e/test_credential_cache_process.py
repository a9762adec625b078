"""The verified-credentials cache across gunicorn workers: every worker sees a change at once."""

from __future__ import annotations

from pathlib import Path

from tests.support.dockit import DockitServer

SERVICE = "registry.test"
ROUNDS = 12  # enough requests to land on every one of the three workers


def statuses(server: DockitServer, password: str) -> set[int]:
    return {server.token(SERVICE, [], ("carol", password)).status for _ in range(ROUNDS)}


def test_password_change_and_disable_reach_every_worker(tmp_path: Path) -> None:
    # Twelve wrong passwords in a row would trip the failed-login limit (tested on its own
    # in test_login_throttle_process): turn it off to see the cache alone.
    no_limit = {"DOCKIT_LOGIN_MAX_FAILURES": "0"}
    with DockitServer(tmp_path, workers=3, extra_env=no_limit) as server:
        server.create_user("carol", "carol-pw-1")
        assert statuses(server, "carol-pw-1") == {200}  # now cached in the workers
        response = server.admin("PUT", "/users/carol/password", {"password": "carol-pw-2"})
        assert response.status == 204
        assert statuses(server, "carol-pw-1") == {401}
        assert statuses(server, "carol-pw-2") == {200}
        server.set_user("carol", enabled=False)
        assert statuses(server, "carol-pw-2") == {401}
        server.set_user("carol", enabled=True)
        assert statuses(server, "carol-pw-2") == {200}
        assert server.admin("DELETE", "/users/carol").status == 204
        assert statuses(server, "carol-pw-2") == {401}
