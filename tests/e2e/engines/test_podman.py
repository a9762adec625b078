"""podman and skopeo (containers/image) through docker-registry 2.8 with Dockit's tokens.

With its own ``podman login`` podman keeps the password and asks for tokens by GET with Basic
credentials. Given an auth file written by ``docker login`` (an ``identitytoken``, no
password), podman and skopeo POST ``grant_type=refresh_token`` with the form sent
``Transfer-Encoding: chunked``: before Dockit read chunked bodies, that was a 400
(``invalid status code from registry 400``) and neither tool falls back to GET.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.docker_cli import docker_login, read_docker_config
from tests.support.dockit import DockitServer
from tests.support.podman import Podman
from tests.support.registry import Registry

from .conftest import IMAGE_TAG, Account, failure, image_layout, token_requests, vias

pytestmark = [pytest.mark.registry, pytest.mark.engines]


def _local_image(podman: Podman, tmp_path: Path, reference: str) -> None:
    """An image of its own content in podman's storage, named ``reference``."""
    layout = image_layout(tmp_path, reference)
    pulled = podman.run("pull", f"oci:{layout}:{IMAGE_TAG}", auth_file=None)
    assert pulled.returncode == 0, failure(pulled)
    image_id = pulled.stdout.strip().splitlines()[-1]
    tagged = podman.run("tag", image_id, reference, auth_file=None)
    assert tagged.returncode == 0, failure(tagged)


def _docker_identity_token(registry: Registry, account: Account, config_dir: Path) -> Path:
    """``docker login`` (the CLI, no daemon): an auth file with an ``identitytoken``."""
    login = docker_login(registry.host, account.name, account.password, config_dir)
    assert login.returncode == 0, failure(login)
    entry = read_docker_config(config_dir)["auths"][registry.host]
    assert entry["identitytoken"].startswith("dkr_")
    return config_dir / "config.json"


def test_podman_login_push_and_pull(
    podman: Podman, registry: Registry, dockit: DockitServer, account: Account, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.json"
    login = podman.run(
        "login",
        "--tls-verify=false",
        "-u",
        account.name,
        "--password-stdin",
        registry.host,
        auth_file=auth_file,
        input_text=account.password,
    )
    assert login.returncode == 0, failure(login)
    reference = f"{registry.host}/{account.name}/hello:{IMAGE_TAG}"
    _local_image(podman, tmp_path, reference)
    pushed = podman.run("push", "--tls-verify=false", reference, auth_file=auth_file)
    assert pushed.returncode == 0, failure(pushed)
    assert podman.run("rmi", reference, auth_file=None).returncode == 0
    pulled = podman.run("pull", "--tls-verify=false", reference, auth_file=auth_file)
    assert pulled.returncode == 0, failure(pulled)
    requests = token_requests(dockit, account.name, at_least=3)
    assert vias(requests) == {"GET"}, requests
    assert {request.action for request in requests} == {"token.issue"}


def test_podman_with_dockers_identity_token(
    podman: Podman, registry: Registry, dockit: DockitServer, account: Account, tmp_path: Path
) -> None:
    auth_file = _docker_identity_token(registry, account, tmp_path / "docker-config")
    reference = f"{registry.host}/{account.name}/from-docker-login:{IMAGE_TAG}"
    _local_image(podman, tmp_path, reference)
    pushed = podman.run("push", "--tls-verify=false", reference, auth_file=auth_file)
    assert pushed.returncode == 0, failure(pushed)
    assert podman.run("rmi", reference, auth_file=None).returncode == 0
    pulled = podman.run("pull", "--tls-verify=false", reference, auth_file=auth_file)
    assert pulled.returncode == 0, failure(pulled)
    requests = token_requests(dockit, account.name, at_least=3)
    assert requests[0].via == "GET", requests  # docker login, offline_token=true
    assert vias(requests[1:]) == {"POST refresh_token"}, requests
    assert {request.action for request in requests} == {"token.issue"}


def test_skopeo_with_dockers_identity_token(
    registry: Registry, dockit: DockitServer, account: Account, tmp_path: Path
) -> None:
    auth_file = _docker_identity_token(registry, account, tmp_path / "docker-config")
    layout = image_layout(tmp_path, account.name)
    destination = f"docker://{registry.host}/{account.name}/via-skopeo:{IMAGE_TAG}"
    copied = skopeo.run_skopeo(
        [
            "copy",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            "--dest-authfile",
            str(auth_file),
            f"oci:{layout}:{IMAGE_TAG}",
            destination,
        ]
    )
    assert copied.ok, copied
    inspected = skopeo.run_skopeo(
        ["inspect", "--tls-verify=false", "--authfile", str(auth_file), destination]
    )
    assert inspected.ok, inspected
    requests = token_requests(dockit, account.name, at_least=3)
    assert requests[0].via == "GET", requests
    assert vias(requests[1:]) == {"POST refresh_token"}, requests
    assert {request.action for request in requests} == {"token.issue"}


def test_skopeo_with_dockers_identity_token_is_denied_elsewhere(
    registry: Registry, dockit: DockitServer, account: Account, tmp_path: Path
) -> None:
    auth_file = _docker_identity_token(registry, account, tmp_path / "docker-config")
    layout = image_layout(tmp_path, account.name)
    copied = skopeo.run_skopeo(
        [
            "copy",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            "--dest-authfile",
            str(auth_file),
            f"oci:{layout}:{IMAGE_TAG}",
            f"docker://{registry.host}/not-{account.name}/app:{IMAGE_TAG}",
        ]
    )
    assert not copied.ok
    assert "denied" in copied.stderr, copied
