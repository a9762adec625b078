"""The Docker engine (dockerd 20.10, docker CLI) through docker-registry 2.8 with Dockit.

``docker login`` goes through the daemon, which asks Dockit by GET with ``offline_token=true``
and stores the refresh token as ``identitytoken``; from then on push and pull POST
``grant_type=refresh_token`` and never send the password again.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.support.docker_cli import read_docker_config
from tests.support.dockerd import Dockerd
from tests.support.dockit import DockitServer
from tests.support.registry import Registry

from .conftest import Account, failure, token_requests, vias

pytestmark = [pytest.mark.registry, pytest.mark.engines]


def _login(dockerd: Dockerd, registry: Registry, account: Account, config_dir: Path) -> None:
    result = dockerd.docker(
        config_dir,
        "login",
        registry.host,
        "-u",
        account.name,
        "--password-stdin",
        input_text=account.password,
    )
    assert result.returncode == 0, failure(result)
    assert "Login Succeeded" in result.stdout


def test_login_stores_the_identity_token_then_push_and_pull_use_it(
    dockerd: Dockerd, registry: Registry, dockit: DockitServer, account: Account, tmp_path: Path
) -> None:
    config_dir = tmp_path / "docker-config"
    _login(dockerd, registry, account, config_dir)
    entry = read_docker_config(config_dir)["auths"][registry.host]
    assert entry["identitytoken"].startswith("dkr_")
    assert base64.b64decode(entry["auth"]) == f"{account.name}:".encode()  # no password kept
    assert account.password not in (config_dir / "config.json").read_text()

    reference = f"{registry.host}/{account.name}/hello:v1"
    dockerd.import_files(config_dir, {"hello.txt": account.name.encode()}, reference)
    pushed = dockerd.docker(config_dir, "push", reference)
    assert pushed.returncode == 0, failure(pushed)
    removed = dockerd.docker(config_dir, "rmi", reference)
    assert removed.returncode == 0, failure(removed)
    pulled = dockerd.docker(config_dir, "pull", reference)
    assert pulled.returncode == 0, failure(pulled)
    assert dockerd.docker(config_dir, "image", "inspect", reference).returncode == 0

    requests = token_requests(dockit, account.name, at_least=3)
    assert requests[0].via == "GET", requests  # the login, with offline_token=true
    assert vias(requests[1:]) == {"POST refresh_token"}, requests
    assert {request.action for request in requests} == {"token.issue"}


def test_push_elsewhere_is_denied(
    dockerd: Dockerd, registry: Registry, dockit: DockitServer, account: Account, tmp_path: Path
) -> None:
    config_dir = tmp_path / "docker-config"
    _login(dockerd, registry, account, config_dir)
    reference = f"{registry.host}/not-{account.name}/hello:v1"
    dockerd.import_files(config_dir, {"hello.txt": b"not mine"}, reference)
    pushed = dockerd.docker(config_dir, "push", reference)
    assert pushed.returncode != 0
    assert "denied: requested access to the resource is denied" in pushed.stderr, failure(pushed)
    requests = token_requests(dockit, account.name, at_least=2)
    assert vias(requests[1:]) == {"POST refresh_token"}, requests


def test_wrong_password_is_refused_at_login(
    dockerd: Dockerd, registry: Registry, dockit: DockitServer, account: Account, tmp_path: Path
) -> None:
    config_dir = tmp_path / "docker-config"
    result = dockerd.docker(
        config_dir,
        "login",
        registry.host,
        "-u",
        account.name,
        "--password-stdin",
        input_text="wrong-pw",
    )
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower(), failure(result)
    assert registry.host not in read_docker_config(config_dir).get("auths", {})
    requests = token_requests(dockit, account.name)
    assert {request.action for request in requests} == {"token.refuse"}
