"""Weak passwords are refused wherever a password is set, on a real ``dockit api-server``:
the Admin API (400, field ``password``), the ``dockit`` CLI through it (exit 2),
``dockit bootstrap-admin`` (exit 2, nothing changed) and the first admin from
``DOCKIT_ADMIN_PASSWORD`` (start-up stops naming the setting)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.client.helpers import run_cli
from tests.support.dockit import DockitServer, base_env

WEAK = {
    "too short": ("pw-7chr", "at least 8 characters"),
    "common": ("password1", "most common passwords"),
    "common, any case": ("BaseBall", "most common passwords"),
}


def test_the_admin_api_refuses_weak_passwords(server: DockitServer) -> None:
    server.create_user("carol", "carol-strong-pw")
    for label, (password, fragment) in WEAK.items():
        created = server.admin("POST", "/users", {"username": "weakling", "password": password})
        assert created.status == 400, label
        [error] = created.json()["errors"]
        assert (error["code"], error["detail"]["field"]) == ("INVALID_FIELD", "password")
        assert fragment in error["message"], label
        changed = server.admin("PUT", "/users/carol/password", {"password": password})
        assert changed.status == 400, label
        # Nothing changed: no such user, and carol keeps her password.
        assert server.admin("GET", "/users/weakling").status == 404
        assert server.token("registry.test", [], ("carol", password)).status == 401
    assert server.token("registry.test", [], ("carol", "carol-strong-pw")).status == 200


def test_the_cli_says_why(server: DockitServer, tmp_path: Path) -> None:
    env = {
        **base_env(tmp_path),
        "DOCKIT_URL": server.url,
        "DOCKIT_USERNAME": server.admin_username,
        "DOCKIT_PASSWORD": server.admin_password or "",
    }
    added = run_cli(
        ["user", "add", "dora", "--password-stdin"], env=env, cwd=tmp_path, stdin="letmein\n"
    )
    assert added.code == 2, added
    assert "password: must be at least 8 characters long" in added.stderr
    common = run_cli(
        ["user", "add", "dora", "--password-stdin"], env=env, cwd=tmp_path, stdin="iloveyou\n"
    )
    assert common.code == 2, common
    assert "most common passwords" in common.stderr
    assert server.admin("GET", "/users/dora").status == 404


@pytest.mark.parametrize("password", ["short", "qwertyuiop"])
def test_bootstrap_admin_refuses_and_changes_nothing(tmp_path: Path, password: str) -> None:
    env = {**base_env(tmp_path), "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path}/dockit.db"}
    refused = run_cli(["bootstrap-admin", "root"], env=env, cwd=tmp_path, stdin=password)
    assert refused.code == 2, refused
    assert "password: " in refused.stderr
    made = run_cli(["bootstrap-admin", "root"], env=env, cwd=tmp_path, stdin="root-strong-pw")
    assert made.code == 0, made
    assert "created" in made.stdout  # the refused run had created nobody


@pytest.mark.parametrize(
    ("password", "fragment"),
    [("admin", "at least 8 characters"), ("password", "most common passwords")],
)
def test_a_weak_first_admin_password_stops_start_up(
    tmp_path: Path, password: str, fragment: str
) -> None:
    server = DockitServer(tmp_path, admin_password=password, workers=1, startup_timeout=10)
    try:
        with pytest.raises(RuntimeError, match="did not become ready"):
            server.start()
    finally:
        server.stop()  # in case it did start
    assert "admin.password" in server.log()
    assert "DOCKIT_ADMIN_PASSWORD" in server.log()
    assert fragment in server.log()


def test_the_minimum_is_a_setting(tmp_path: Path) -> None:
    env = {"DOCKIT_PASSWORD_MIN_LENGTH": "16"}
    with DockitServer(tmp_path, admin_password="admin-pw-16-chars", extra_env=env) as server:
        short = server.admin("POST", "/users", {"username": "eve", "password": "fifteen-chars!!"})
        assert short.status == 400
        assert "at least 16 characters" in short.body.decode()
        server.create_user("eve", "sixteen-chars!!!")
