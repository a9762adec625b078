"""http:// to a Dockit that serves HTTPS: the CLI and init-container suggest https://
instead of a bare "Remote end closed connection without response"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.resilience.test_tls import HttpsDockitServer
from tests.support.dockit import base_env, run_dockit
from tests.support.slapd import DirectoryPki


@pytest.fixture(scope="module")
def tls_dockit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsDockitServer]:
    pki = DirectoryPki.create(tmp_path_factory.mktemp("pki"))
    server = HttpsDockitServer(tmp_path_factory.mktemp("dockit"), pki)
    with server:
        yield server


def test_the_cli_over_http_to_an_https_port(tls_dockit: HttpsDockitServer, tmp_path: Path) -> None:
    plain = f"http://{tls_dockit.host}"
    env = {
        **base_env(tmp_path),
        "DOCKIT_USERNAME": tls_dockit.admin_username,
        "DOCKIT_PASSWORD": tls_dockit.admin_creds[1],
    }
    result = run_dockit(["--url", plain, "user", "list"], env=env, cwd=tmp_path)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"if this port speaks HTTPS (server.tls_cert_file), use {tls_dockit.url}" in lines[0]
    assert tls_dockit.admin_creds[1] not in result.stderr


def test_init_container_over_http_to_an_https_port(
    tls_dockit: HttpsDockitServer, tmp_path: Path
) -> None:
    plain = f"http://{tls_dockit.host}"
    bundle = tmp_path / "certs.pem"
    result = run_dockit(
        ["init-container", str(bundle), "--url", plain, "--timeout", "1"],
        env=base_env(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 1, result
    assert f"use {tls_dockit.url}" in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr
    assert not bundle.exists()
