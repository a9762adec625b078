"""A newcomer's first hour with ``dockit api-server`` and ``dockit init-container`` as
processes: the start-up banner, the generated admin password, and the usual mistakes, each
answered with one line naming the cause and the fix and a non-zero exit."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import SERVICE, unique
from tests.support.docker_cli import docker_login
from tests.support.dockit import DockitServer, base_env, run_dockit
from tests.support.procs import LOOPBACK, free_port
from tests.support.registry import Registry

EXIT_FAILURE = 1
EXIT_USAGE = 2
BANNER_TITLE = re.compile(r"^Dockit \S+ listens on ", re.MULTILINE)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another process listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])


def test_a_port_in_use_is_one_line_naming_the_setting(tmp_path: Path, busy_port: int) -> None:
    env = {**base_env(tmp_path), "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path}/dockit.db"}
    result = run_dockit(["api-server", "--bind", f"{LOOPBACK}:{busy_port}"], env=env, cwd=tmp_path)
    assert result.returncode == EXIT_USAGE, result
    line = one_line(result.stderr)
    assert line.startswith(f"dockit api-server: server.bind: cannot listen on {LOOPBACK}:")
    assert "--bind, DOCKIT_BIND or server.bind" in line
    assert "the port is in use by another process" in line
    assert "Connection in use" not in result.stderr  # gunicorn's retries never started
    assert not (tmp_path / "dockit.db").exists()  # nothing was touched


def test_postgresql_without_the_extra_is_one_line(tmp_path: Path) -> None:
    # A psycopg2 that cannot be imported, as on a machine without the postgres extra.
    shim = tmp_path / "no-postgres"
    (shim / "psycopg2").mkdir(parents=True)
    (shim / "psycopg2" / "__init__.py").write_text("raise ImportError('no psycopg2 here')\n")
    url = "postgresql://dockit:db-secret-pw@127.0.0.1:1/dockit"
    env = {**base_env(tmp_path), "PYTHONPATH": str(shim), "DOCKIT_DATABASE_URL": url}
    for args in (["api-server", "--bind", f"{LOOPBACK}:{free_port()}"], ["bootstrap-admin", "x"]):
        result = run_dockit(args, env=env, cwd=tmp_path)
        assert result.returncode == EXIT_USAGE, result
        line = one_line(result.stderr)
        assert "database.url: PostgreSQL needs the postgres extra" in line, line
        assert "pip install 'dockit[postgres]'" in line
        assert "ImportError" not in line
        assert "db-secret-pw" not in result.stderr + result.stdout


def test_the_banner_once_then_the_generated_password(tmp_path: Path) -> None:
    with DockitServer(tmp_path, admin_password=None, workers=2) as server:
        err = server.stderr()
        assert len(BANNER_TITLE.findall(err)) == 1, err  # the master's, not each worker's
        banner_at = BANNER_TITLE.search(err)
        assert banner_at is not None
        banner = err[banner_at.start() :]
        assert f"listens on {server.url} (this machine only" in banner
        assert f"database  sqlite:///{server.database_path}" in banner
        assert f"issuer    {server.issuer}" in banner
        assert f"services  {SERVICE}" in banner
        assert f"REGISTRY_AUTH_TOKEN_REALM={server.token_realm}" in banner
        assert f"REGISTRY_AUTH_TOKEN_SERVICE={SERVICE}" in banner
        assert f"REGISTRY_AUTH_TOKEN_ISSUER={server.issuer}" in banner
        assert f"dockit init-container ./certs.pem --url {server.url}" in banner
        match = re.search(r"Created the first admin 'admin' with the password (\S+)\n", banner)
        assert match is not None, err  # after the banner, not lost among the lines above it
        password = match.group(1)
        block = banner[match.start() - 80 : match.end() + 400]
        assert "=" * 40 in block
        assert "shown only this once" in block
        assert "dockit user passwd admin" in block
        assert err.count(password) == 1
        assert password not in server.stdout()
        server.admin_password = password
        assert server.list_users()[0]["username"] == "admin"


def test_an_admin_password_for_an_existing_database_says_it_is_ignored(tmp_path: Path) -> None:
    with DockitServer(tmp_path, admin_password="first-admin-pw-2026") as server:
        assert "is ignored" not in server.stderr()  # it created the first admin
        server.restart(extra_env={"DOCKIT_ADMIN_PASSWORD": "second-admin-pw-2026"})
        err = server.stderr()
        notes = [line for line in err.splitlines() if "DOCKIT_ADMIN_PASSWORD" in line]
        assert len(notes) == 1, err
        assert "admin.password (DOCKIT_ADMIN_PASSWORD) is ignored" in notes[0]
        assert "dockit user passwd NAME" in notes[0]
        assert "bootstrap-admin NAME --reset-password" in notes[0]
        assert "second-admin-pw-2026" not in err
        assert server.admin("GET", "/users", creds=("admin", "first-admin-pw-2026")).status == 200


def test_a_service_that_does_not_match_names_both_settings(tmp_path: Path) -> None:
    with DockitServer(tmp_path / "dockit", services=(SERVICE,)) as server:
        status, body, _ = server.token("registry.other", ["repository:a/b:pull"])
        assert status == 400
        [entry] = body["errors"]
        assert entry["code"] == "SERVICE_UNKNOWN"
        message = entry["message"]
        assert f"service 'registry.other' is not one this Dockit serves ({SERVICE})" in message
        assert "REGISTRY_AUTH_TOKEN_SERVICE" in message
        assert "token.services (DOCKIT_SERVICES)" in message
        assert entry["detail"] == {"service": "registry.other", "served": [SERVICE]}
        # What a docker user sees, through a registry configured with the other name.
        bundle = tmp_path / "certs.pem"
        bundle.write_bytes(server.certs_pem())
        with Registry(
            realm=server.token_realm,
            rootcertbundle=bundle,
            service="registry.other",
            issuer=server.issuer,
            workdir=tmp_path / "registry",
        ) as registry:
            login = docker_login(registry.host, "admin", server.admin_creds[1], tmp_path / "cfg")
        assert login.returncode != 0
        assert "token.services (DOCKIT_SERVICES)" in login.stderr, login.stderr


# -- init-container ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_dockit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    with DockitServer(tmp_path_factory.mktemp("dockit")) as server:
        yield server


def init_container(tmp_path: Path, url: str, *extra: str) -> tuple[int, str, Path]:
    bundle = tmp_path / f"{unique('certs')}.pem"
    result = run_dockit(
        ["init-container", str(bundle), "--url", url, *extra],
        env=base_env(tmp_path),
        cwd=tmp_path,
        timeout=60,
    )
    return result.returncode, result.stderr, bundle


def test_init_container_refuses_a_url_without_a_scheme_at_once(
    tmp_path: Path, plain_dockit: DockitServer
) -> None:
    code, stderr, bundle = init_container(tmp_path, plain_dockit.host, "--timeout", "60")
    assert code == EXIT_USAGE
    line = one_line(stderr)
    assert "--url must be Dockit's base URL with http:// or https://" in line
    assert repr(plain_dockit.host) in line
    assert "waiting for Dockit" not in stderr  # refused, not retried for a minute
    assert not bundle.exists()


def test_init_container_says_what_it_waits_for_and_gives_up_naming_the_url(
    tmp_path: Path,
) -> None:
    url = f"http://{LOOPBACK}:{free_port()}"
    code, stderr, bundle = init_container(tmp_path, url, "--timeout", "2")
    assert code == EXIT_FAILURE
    lines = stderr.strip().splitlines()
    assert lines[0].startswith(
        f"dockit init-container: waiting for Dockit at {url}/v2/certs/pem: connection refused"
    )
    assert "it may still be starting" in lines[0]
    assert lines[-1].startswith(f"dockit init-container: gave up on {url}/v2/certs/pem after 2s")
    assert "Is Dockit running there, and is --url (DOCKIT_URL)" in lines[-1]
    assert "Traceback" not in stderr
    assert not bundle.exists()


def test_init_container_https_to_a_plain_port_stops_at_once(
    tmp_path: Path, plain_dockit: DockitServer
) -> None:
    https = plain_dockit.url.replace("http://", "https://")
    code, stderr, bundle = init_container(tmp_path, https, "--timeout", "60")
    assert code == EXIT_FAILURE
    line = one_line(stderr)
    assert f"this port speaks plain HTTP, not HTTPS; use {plain_dockit.url} " in line
    assert "WRONG_VERSION_NUMBER" not in line
    assert not bundle.exists()


def test_init_container_accepts_the_admin_api_prefix(
    tmp_path: Path, plain_dockit: DockitServer
) -> None:
    code, stderr, bundle = init_container(tmp_path, plain_dockit.url + "/api/v1")
    assert code == 0, stderr
    assert bundle.read_bytes() == plain_dockit.certs_pem()
