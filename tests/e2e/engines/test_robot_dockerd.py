"""A robot account through the Docker engine: ``docker login -u NAME --password-stdin`` with
its secret, then ``docker push`` and ``docker pull``, via docker-registry 2.8 and Dockit.

With no refresh token for a robot, the daemon's login keeps the secret as the password
(``auth`` in config.json, as for any registry without identity tokens) and every push and
pull asks Dockit by GET with it.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import unique
from tests.support.access_credentials import CredentialStore
from tests.support.docker_cli import read_docker_config
from tests.support.dockerd import Dockerd
from tests.support.dockit import DockitServer
from tests.support.registry import Registry

from .conftest import failure, token_requests

pytestmark = [pytest.mark.registry, pytest.mark.engines]


def test_a_robot_logs_in_pushes_and_pulls(
    dockerd: Dockerd, registry: Registry, dockit: DockitServer, tmp_path: Path
) -> None:
    owner = unique("owner")
    dockit.create_user(owner, f"{owner}-pw-1")
    store = CredentialStore(f"sqlite:///{dockit.database_path}")
    name = unique("robot")
    robot = store.make("robot", name, f"user:{owner}", expires_in=timedelta(hours=1))
    store.grant(f"robot:{name}", "repository", f"{name}/**", "push")
    config_dir = tmp_path / "docker-config"

    login = dockerd.docker(
        config_dir, "login", registry.host, "-u", name, "--password-stdin", input_text=robot.secret
    )
    assert login.returncode == 0, failure(login)
    entry = read_docker_config(config_dir)["auths"][registry.host]
    assert "identitytoken" not in entry  # no refresh token for a robot
    assert base64.b64decode(entry["auth"]) == f"{name}:{robot.secret}".encode()

    reference = f"{registry.host}/{name}/hello:v1"
    dockerd.import_files(config_dir, {"hello.txt": name.encode()}, reference)
    pushed = dockerd.docker(config_dir, "push", reference)
    assert pushed.returncode == 0, failure(pushed)
    assert dockerd.docker(config_dir, "rmi", reference).returncode == 0
    pulled = dockerd.docker(config_dir, "pull", reference)
    assert pulled.returncode == 0, failure(pulled)

    elsewhere = f"{registry.host}/{owner}/hello:v1"
    dockerd.import_files(config_dir, {"hello.txt": b"not the robot's"}, elsewhere)
    denied = dockerd.docker(config_dir, "push", elsewhere)
    assert denied.returncode != 0
    assert "denied" in denied.stderr, failure(denied)

    events = dockit.audit_events(f"kind=token&actor=robot:{name}&limit=500", at_least=3)
    assert {event["detail"]["credential"]["id"] for event in events} == {f"robot:{name}"}
    assert {event["detail"].get("method") for event in events} == {"GET"}
    assert token_requests(dockit, owner, at_least=0) == []  # nothing in the owner's name
    assert robot.secret not in dockit.all_logs()
