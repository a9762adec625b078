"""End-to-end fixtures: the real ``dockit api-server``, its bundle, and a registry trusting it.

One Dockit (gunicorn, 2 workers, SQLite) and one registry serve a whole test module: starting
gunicorn costs about a second. Tests keep out of each other's way by creating uniquely named
users, groups and repositories (:func:`unique`) and by revoking broad grants they add.

test_infrastructure.py defines its own function-scoped ``bundle`` and ``registry``; a module's
fixtures win over these, so it keeps testing the helpers against its own token issuer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import oci
from tests.support.dockit import DockitServer, base_env, run_dockit
from tests.support.registry import Registry

SERVICE = "registry.test"
ISSUER = "dockit-e2e-issuer"
#: Not the default 300, so a token's lifetime shows the setting reached the server.
TOKEN_LIFETIME = 900
IMAGE_TAG = "v1"


def unique(prefix: str) -> str:
    """``prefix-XXXXXXXX``: a user, group or repository path component no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class OciImage:
    """A local OCI layout holding one image under :attr:`tag`."""

    layout: Path
    tag: str
    digest: str


@pytest.fixture(scope="session")
def oci_image(tmp_path_factory: pytest.TempPathFactory) -> OciImage:
    layout = tmp_path_factory.mktemp("oci-layout")
    digest = oci.write_oci_layout(layout, tag=IMAGE_TAG, marker="dockit-e2e")
    return OciImage(layout=layout, tag=IMAGE_TAG, digest=digest)


@pytest.fixture(scope="module")
def dockit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    """The real ``dockit api-server`` for one module."""
    server = DockitServer(
        tmp_path_factory.mktemp("dockit"),
        services=(SERVICE,),
        issuer=ISSUER,
        token_lifetime=TOKEN_LIFETIME,
        # One server for a module of tests that each try a few bad logins from loopback:
        # the failed-login limit would turn later 401s into 429s. It is tested on its own in
        # test_login_throttle_process.
        extra_env={"DOCKIT_LOGIN_MAX_FAILURES": "0"},
    )
    with server:
        yield server


def write_bundle(dockit: DockitServer, path: Path) -> Path:
    """``dockit init-container PATH --url URL`` as a subprocess; it must exit 0."""
    result = run_dockit(
        ["init-container", str(path), "--url", dockit.url, "--timeout", "20"],
        env=base_env(path.parent),
        cwd=path.parent,
        timeout=60,
    )
    assert result.returncode == 0, f"init-container: {result.stdout}\n{result.stderr}"
    assert f"to {path}" in result.stdout, result.stdout
    return path


@pytest.fixture(scope="module")
def bundle(dockit: DockitServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle written by the real ``dockit init-container``."""
    return write_bundle(dockit, tmp_path_factory.mktemp("bundle") / "certs.pem")


@pytest.fixture(scope="module")
def registry(
    dockit: DockitServer, bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """docker-registry 2.8 sending clients to Dockit's realm and trusting its bundle."""
    reg = Registry(
        realm=dockit.token_realm,
        rootcertbundle=bundle,
        service=SERVICE,
        issuer=dockit.issuer,
        workdir=tmp_path_factory.mktemp("registry"),
    )
    with reg:
        yield reg
