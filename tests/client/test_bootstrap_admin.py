"""``dockit bootstrap-admin NAME`` on a real SQLite file: create, re-run, refuse, promote,
enable, reset; then a real server on that database lets the admin in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockit_server.bootstrap import open_store
from dockit_server.client.errors import EXIT_CONFLICT, EXIT_OK, EXIT_USAGE
from dockit_server.config import Settings
from libdockit.admin import AdminService
from libdockit.audit import Actor
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.sql.backend import SqlBackend
from libdockit.model import User
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from tests.client.helpers import Cli, run_cli, subprocess_env
from tests.support.dockit import DockitServer

TEST_ACTOR = Actor.system("tests")

NAME = "root"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "dockit.db"


@pytest.fixture
def boot(cli: Cli, database: Path) -> Cli:
    """The CLI with ``DOCKIT_DATABASE_URL`` naming a fresh SQLite file."""
    cli.env["DOCKIT_DATABASE_URL"] = f"sqlite:///{database}"
    return cli


@pytest.fixture
def store(database: Path) -> Iterator[SqlBackend]:
    backend = open_store(Settings.load({"DOCKIT_DATABASE_URL": f"sqlite:///{database}"}))
    backend.migrate()
    try:
        yield backend
    finally:
        backend.close()


def user(store: SqlBackend, name: str = NAME) -> User:
    return store.get_user(name)


def logs_in(store: SqlBackend, password: str, name: str = NAME) -> bool:
    return (
        LocalAuthenticator(store, PasswordHasher()).authenticate(name, Secret(password)) is not None
    )


def add_user(store: SqlBackend, *, admin: bool, enabled: bool = True) -> None:
    service = AdminService(store, store, PasswordHasher())
    service.create_user(
        NAME, Secret("old-pw-1234"), is_admin=admin, enabled=enabled, actor=TEST_ACTOR
    )


def test_creates_then_leaves_alone(boot: Cli, database: Path, store: SqlBackend) -> None:
    created = boot("bootstrap-admin", NAME, stdin="first-pw\n")
    assert created.code == EXIT_OK, created
    assert created.stdout == f"{NAME}: created with the admin flag\n"
    assert database.exists()
    assert user(store).is_admin
    assert logs_in(store, "first-pw")

    again = boot("bootstrap-admin", NAME, stdin="other-pw\n")
    assert again.code == EXIT_OK, again
    assert "nothing changed" in again.stdout
    assert logs_in(store, "first-pw")
    assert not logs_in(store, "other-pw")


def test_reset_password(boot: Cli, store: SqlBackend) -> None:
    add_user(store, admin=True)
    result = boot("bootstrap-admin", NAME, "--reset-password", stdin="new-pw-1234")
    assert result.code == EXIT_OK, result
    assert result.stdout == f"{NAME}: password reset\n"
    assert logs_in(store, "new-pw-1234")
    assert not logs_in(store, "old-pw-1234")


def test_refuses_a_non_admin_without_promote(boot: Cli, store: SqlBackend) -> None:
    add_user(store, admin=False)
    refused = boot("bootstrap-admin", NAME, stdin="new-pw-1234")
    assert refused.code == EXIT_CONFLICT, refused
    assert "exists and is not an admin; nothing changed" in refused.stderr
    assert "--promote" in refused.stderr
    assert not user(store).is_admin
    assert logs_in(store, "old-pw-1234")

    promoted = boot("bootstrap-admin", NAME, "--promote", stdin="ignored-pw")
    assert promoted.code == EXIT_OK, promoted
    assert promoted.stdout == f"{NAME}: promoted to admin\n"
    assert user(store).is_admin
    assert logs_in(store, "old-pw-1234")


def test_promote_and_reset(boot: Cli, store: SqlBackend) -> None:
    add_user(store, admin=False)
    result = boot(
        "bootstrap-admin", NAME, "--promote", "--reset-password", "-o", "json", stdin="new-pw-1234"
    )
    assert result.code == EXIT_OK, result
    document = result.json()
    assert document["result"] == "updated"
    assert document["changes"] == ["password reset", "promoted to admin"]
    assert (document["user"]["username"], document["user"]["admin"]) == (NAME, True)
    assert logs_in(store, "new-pw-1234")


def test_refuses_a_disabled_user_without_enable(boot: Cli, store: SqlBackend) -> None:
    add_user(store, admin=True, enabled=False)
    refused = boot("bootstrap-admin", NAME)
    assert refused.code == EXIT_CONFLICT, refused
    assert "is disabled" in refused.stderr
    assert not user(store).enabled
    enabled = boot("bootstrap-admin", NAME, "--enable")
    assert enabled.code == EXIT_OK, enabled
    assert user(store).enabled
    assert logs_in(store, "old-pw-1234")


def test_a_bad_password_changes_nothing(boot: Cli, store: SqlBackend) -> None:
    add_user(store, admin=False)
    result = boot("bootstrap-admin", NAME, "--promote", "--reset-password", stdin="a\x00b")
    assert result.code == EXIT_USAGE, result
    assert not user(store).is_admin
    empty = boot("bootstrap-admin", "newcomer", stdin="")
    assert empty.code == EXIT_USAGE, empty
    assert "no password on stdin" in empty.stderr


def test_prompts_at_a_terminal(boot: Cli, store: SqlBackend) -> None:
    result = boot("bootstrap-admin", NAME, tty=True, prompts=["typed-pw", "typed-pw"])
    assert result.code == EXIT_OK, result
    assert logs_in(store, "typed-pw")


def test_bad_name_and_bad_settings(boot: Cli, tmp_path: Path) -> None:
    bad_name = boot("bootstrap-admin", "Not Valid", stdin="pw")
    assert bad_name.code == EXIT_USAGE, bad_name
    assert "username: must be" in bad_name.stderr
    bad_url = boot("bootstrap-admin", NAME, "--database-url", "mysql://x", stdin="pw")
    assert bad_url.code == EXIT_USAGE, bad_url
    assert "database.url" in bad_url.stderr


def test_then_a_real_server_lets_the_admin_in(tmp_path: Path) -> None:
    """bootstrap-admin first (as a subprocess), then api-server on the same database: it
    creates no first admin of its own, and the CLI works as the bootstrapped admin."""
    workdir = tmp_path / "server"
    workdir.mkdir()
    env = subprocess_env(tmp_path, DOCKIT_DATABASE_URL=f"sqlite:///{workdir / 'dockit.db'}")
    created = run_cli(["bootstrap-admin", NAME], env=env, cwd=tmp_path, stdin="boot-pw-1234\n")
    assert created.code == EXIT_OK, created
    again = run_cli(["bootstrap-admin", NAME], env=env, cwd=tmp_path, stdin="boot-pw-1234\n")
    assert again.code == EXIT_OK, again

    with DockitServer(workdir, admin_username="admin", admin_password=None, workers=1) as server:
        assert "Created the first admin" not in server.log()
        listed = run_cli(
            ["user", "list", "-o", "json", "--url", server.url],
            env=subprocess_env(tmp_path, DOCKIT_USERNAME=NAME, DOCKIT_PASSWORD="boot-pw-1234"),
            cwd=tmp_path,
        )
    assert listed.code == EXIT_OK, listed
    assert [(u["username"], u["admin"]) for u in listed.json()] == [(NAME, True)]


def test_changes_are_in_the_audit_log(tmp_path: Path, database: Path, store: SqlBackend) -> None:
    """Each change the command makes (as a subprocess, on the real database) is an admin
    event of ``system:bootstrap-admin``, with the user's view before and after; a run that
    changes nothing records nothing, and no password is recorded."""
    env = subprocess_env(tmp_path, DOCKIT_DATABASE_URL=f"sqlite:///{database}")
    created = run_cli(["bootstrap-admin", NAME], env=env, cwd=tmp_path, stdin="boot-pw-1234\n")
    assert created.code == EXIT_OK, created
    unchanged = run_cli(["bootstrap-admin", NAME], env=env, cwd=tmp_path, stdin="boot-pw-1234\n")
    assert unchanged.code == EXIT_OK, unchanged
    store.set_user_enabled(NAME, False)  # behind the command's back: not an admin change
    args = ["bootstrap-admin", NAME, "--enable", "--reset-password"]
    repaired = run_cli(args, env=env, cwd=tmp_path, stdin="new-boot-pw-1234\n")
    assert repaired.code == EXIT_OK, repaired

    events = list(reversed(store.query_events(kind="admin").items))
    assert [(e.actor, e.action, e.target) for e in events] == [
        ("system:bootstrap-admin", "user.create", "user:root"),
        ("system:bootstrap-admin", "user.password", "user:root"),
        ("system:bootstrap-admin", "user.update", "user:root"),
    ]
    create, password, enable = events
    assert create.after is not None
    assert (create.before, create.after["admin"], create.after["enabled"]) == (None, True, True)
    assert (password.before, password.after) == (None, None)
    assert enable.before is not None
    assert enable.after is not None
    assert (enable.before["enabled"], enable.after["enabled"]) == (False, True)
    text = json.dumps([(e.before, e.after, e.detail) for e in events])
    assert "boot-pw-1234" not in text


def test_no_audit_log_when_turned_off(tmp_path: Path, database: Path, store: SqlBackend) -> None:
    env = subprocess_env(
        tmp_path, DOCKIT_DATABASE_URL=f"sqlite:///{database}", DOCKIT_AUDIT="false"
    )
    created = run_cli(["bootstrap-admin", NAME], env=env, cwd=tmp_path, stdin="boot-pw-1234\n")
    assert created.code == EXIT_OK, created
    assert user(store).is_admin
    assert store.query_events().items == []
