"""Real container engines against the real ``dockit api-server`` and Debian's docker-registry.

One Dockit, one registry, one containerd (which dockerd also runs on), one dockerd and one
podman serve the whole package: starting dockerd costs a couple of seconds. Each engine has
its own temporary root and socket and is stopped by PID (see tests/support). Each test makes
its own user (:func:`account`), so the audit log tells its token requests apart: every token
decision records how it was asked for (``GET``, or ``POST`` with its ``grant_type``).

Images come from nowhere but here: an OCI layout written by tests.support.oci (imported
into containerd, pulled by podman from the layout) and a root filesystem ``docker import``ed.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import IMAGE_TAG, unique, write_bundle

__all__ = ["IMAGE_TAG", "Account", "TokenRequest", "failure", "image_layout", "image_tar"]
from tests.support import oci
from tests.support.containerd import Containerd
from tests.support.dockerd import Dockerd
from tests.support.dockit import DockitServer
from tests.support.podman import Podman
from tests.support.registry import Registry

SERVICE = "registry.test"
ISSUER = "dockit-engines"


@dataclass(frozen=True)
class Account:
    """A user who may push and pull under ``NAME/**``."""

    name: str
    password: str

    @property
    def creds(self) -> tuple[str, str]:
        return (self.name, self.password)


@dataclass(frozen=True)
class TokenRequest:
    """One token decision of the audit log, as the tests compare them."""

    method: str
    grant_type: str | None
    action: str

    @property
    def via(self) -> str:
        """``GET``, ``POST password`` or ``POST refresh_token``."""
        return self.method if self.grant_type is None else f"{self.method} {self.grant_type}"


def token_requests(dockit: DockitServer, user: str, *, at_least: int = 1) -> list[TokenRequest]:
    """The token decisions for ``user``, oldest first."""
    events = dockit.audit_events(f"kind=token&actor=user:{user}&limit=500", at_least=at_least)
    return [
        TokenRequest(
            str(event["detail"].get("method")), event["detail"].get("grant_type"), event["action"]
        )
        for event in reversed(events)
    ]


def vias(requests: list[TokenRequest]) -> set[str]:
    return {request.via for request in requests}


@pytest.fixture(scope="package")
def dockit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    server = DockitServer(
        tmp_path_factory.mktemp("dockit"),
        services=(SERVICE,),
        issuer=ISSUER,
        # Each test makes its own user; a few refused logins must not turn into 429s.
        extra_env={"DOCKIT_LOGIN_MAX_FAILURES": "0", "DOCKIT_AUDIT_FLUSH_SECONDS": "0"},
    )
    with server:
        yield server


@pytest.fixture(scope="package")
def bundle(dockit: DockitServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(dockit, tmp_path_factory.mktemp("bundle") / "certs.pem")


@pytest.fixture(scope="package")
def registry(
    dockit: DockitServer, bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """Debian's docker-registry 2.8 sending clients to Dockit."""
    with Registry(
        realm=dockit.token_realm,
        rootcertbundle=bundle,
        service=SERVICE,
        issuer=ISSUER,
        workdir=tmp_path_factory.mktemp("registry"),
    ) as running:
        yield running


@pytest.fixture(scope="package")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    with Containerd(tmp_path_factory.mktemp("containerd")) as running:
        yield running


@pytest.fixture(scope="package")
def dockerd(
    containerd: Containerd, registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dockerd]:
    engine = Dockerd(
        tmp_path_factory.mktemp("dockerd"),
        containerd_socket=containerd.socket,
        insecure_registries=[registry.host],
    )
    with engine:
        yield engine


@pytest.fixture(scope="package")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    engine = Podman(tmp_path_factory.mktemp("podman"))
    try:
        yield engine
    finally:
        engine.close()


def image_layout(directory: Path, marker: str) -> Path:
    """An OCI layout in ``directory`` of one image tagged ``v1`` whose content is its own
    (``marker``). Own content matters: containerd remembers which repository a blob came
    from and asks to mount it from there, which needs pull on that repository."""
    layout = directory / "layout"
    oci.write_oci_layout(layout, tag=IMAGE_TAG, marker=marker)
    return layout


def image_tar(directory: Path, marker: str) -> Path:
    """:func:`image_layout` as a tar, what ``ctr images import`` reads."""
    layout = image_layout(directory, marker)
    path = directory / "layout.tar"
    with tarfile.open(path, "w") as tar:
        for member in sorted(layout.rglob("*")):
            tar.add(member, arcname=str(member.relative_to(layout)), recursive=False)
    return path


def make_account(dockit: DockitServer) -> Account:
    """A new user of ``dockit`` who may push and pull under ``NAME/**``."""
    name = unique("eng")
    password = f"{name}-pw-1"
    dockit.create_user(name, password)
    dockit.grant(f"user:{name}", f"repository:{name}/**:pull,push")
    return Account(name, password)


@pytest.fixture
def account(dockit: DockitServer) -> Account:
    return make_account(dockit)


def failure(result: Any) -> str:
    """A completed process's output, for assertion messages."""
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
