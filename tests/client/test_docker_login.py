"""The real docker CLI: ``docker login`` (client-side, no daemon) against docker-registry 2.8
pointed at Dockit writes the config the admin CLI then uses with ``--registry HOST``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockit_server.client.errors import EXIT_DENIED, EXIT_OK
from tests.client.conftest import ADMIN, ADMIN_PASSWORD, MakeUser
from tests.client.helpers import HELPER_NAME, CredentialHelper, Result, run_cli, subprocess_env
from tests.support.docker_cli import docker_env, docker_login, read_docker_config
from tests.support.dockit import DockitServer, base_env, run_dockit
from tests.support.procs import require_binary
from tests.support.registry import Registry

pytestmark = [pytest.mark.registry, pytest.mark.docker_cli]


@pytest.fixture(scope="module")
def registry(dockit: DockitServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """docker-registry trusting the bundle ``dockit init-container`` wrote."""
    workdir = tmp_path_factory.mktemp("registry")
    bundle = workdir / "certs.pem"
    written = run_dockit(
        ["init-container", str(bundle), "--url", dockit.url, "--timeout", "20"],
        env=base_env(workdir),
        cwd=workdir,
    )
    assert written.returncode == 0, written.stderr
    with Registry(
        realm=dockit.token_realm,
        rootcertbundle=bundle,
        service=dockit.services[0],
        issuer=dockit.issuer,
        workdir=workdir,
    ) as reg:
        yield reg


def admin_cli(
    dockit: DockitServer, registry: Registry, config_dir: Path, *args: str, **env: str
) -> Result:
    full_env = subprocess_env(config_dir.parent, DOCKER_CONFIG=str(config_dir), **env)
    command = [*args, "--registry", registry.host, "--url", dockit.url]
    return run_cli(command, env=full_env, cwd=config_dir.parent)


def test_docker_login_then_the_cli(
    dockit: DockitServer, registry: Registry, tmp_path: Path
) -> None:
    config_dir = tmp_path / "docker"
    login = docker_login(registry.host, ADMIN, ADMIN_PASSWORD, config_dir)
    assert login.returncode == 0, login.stderr
    entry = read_docker_config(config_dir)["auths"][registry.host]
    assert entry["identitytoken"].startswith("dkr_")  # the CLI sends it as the password
    assert ADMIN_PASSWORD not in (config_dir / "config.json").read_text()

    result = admin_cli(dockit, registry, config_dir, "user", "list", "-o", "json")
    assert result.code == EXIT_OK, result
    assert ADMIN in {user["username"] for user in result.json()}


def test_docker_login_as_a_non_admin(
    dockit: DockitServer, registry: Registry, make_user: MakeUser, tmp_path: Path
) -> None:
    name = make_user("docker")
    config_dir = tmp_path / "docker"
    login = docker_login(registry.host, name, f"{name}-pw", config_dir)
    assert login.returncode == 0, login.stderr
    result = admin_cli(dockit, registry, config_dir, "group", "list")
    assert result.code == EXIT_DENIED, result
    assert f"{name} is not an admin" in result.stderr
    assert f"{name}-pw" not in result.stderr


def test_docker_login_into_a_credential_helper(
    dockit: DockitServer, registry: Registry, tmp_path: Path
) -> None:
    helper = CredentialHelper.install(tmp_path / "helper")
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps({"credsStore": HELPER_NAME}))
    env = {**docker_env(config_dir), **helper.env()}
    login = subprocess.run(
        [require_binary("docker"), "login", registry.host, "-u", ADMIN, "--password-stdin"],
        input=ADMIN_PASSWORD,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    stored = json.loads(helper.store.read_text())
    # Dockit answered with a refresh token: docker keeps that, under the name "<token>".
    assert stored[registry.host]["Username"] == "<token>"
    assert stored[registry.host]["Secret"].startswith("dkr_")
    assert ADMIN_PASSWORD not in (config_dir / "config.json").read_text()
    assert ADMIN_PASSWORD not in helper.store.read_text()

    result = admin_cli(dockit, registry, config_dir, "user", "show", ADMIN, **helper.env())
    assert result.code == EXIT_OK, result
    assert result.stdout.startswith(f"username: {ADMIN}\n")
    assert {"action": "get", "input": registry.host} in helper.calls()
