"""Dockit serving HTTPS itself (``server.tls_cert_file`` / ``server.tls_key_file``).

A client trusting the CA gets 200 from /healthz and a token over https; a client trusting
another CA, and a plain-http client, get nothing; ``dockit init-container --url https://...
--ca-file CA`` writes the bundle; half a TLS configuration or an unreadable key file stops
the start with a message naming the setting.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.dockit import (
    HTTP_TIMEOUT,
    DockitServer,
    Response,
    base_env,
    basic_auth,
    run_dockit,
)
from tests.support.procs import free_port
from tests.support.slapd import DirectoryPki

SERVICE = "registry.test"


def https_opener(ca_file: Path) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=str(ca_file))
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )


class HttpsDockitServer(DockitServer):
    """DockitServer over https, its client trusting ``ca_file``."""

    def __init__(self, workdir: Path, pki: DirectoryPki, **kwargs: Any) -> None:
        extra = {
            "DOCKIT_TLS_CERT_FILE": str(pki.server_cert_file),
            "DOCKIT_TLS_KEY_FILE": str(pki.server_key_file),
        }
        super().__init__(workdir, extra_env=extra, **kwargs)
        self._opener = https_opener(pki.ca_file)

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def request(
        self,
        method: str,
        path: str,
        *,
        creds: tuple[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = HTTP_TIMEOUT,
    ) -> Response:
        all_headers = dict(headers or {})
        if creds is not None:
            all_headers["Authorization"] = basic_auth(creds)
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers=all_headers
        )
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Response(exc.code, exc.headers, exc.read())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DirectoryPki:
    return DirectoryPki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def https_server(
    tmp_path_factory: pytest.TempPathFactory, pki: DirectoryPki
) -> Iterator[HttpsDockitServer]:
    server = HttpsDockitServer(tmp_path_factory.mktemp("dockit"), pki)
    with server:
        yield server


def test_a_client_trusting_the_ca_gets_answers_over_https(
    https_server: HttpsDockitServer, pki: DirectoryPki
) -> None:
    assert https_server.get("/healthz").status == 200
    answer = https_server.token(SERVICE, [], https_server.admin_creds)
    assert answer.status == 200, answer
    # Another CA: the certificate is refused.
    with pytest.raises(urllib.error.URLError) as refused:
        https_opener(pki.wrong_ca_file).open(https_server.url + "/healthz", timeout=5)
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    # Plain http to the TLS port gets no HTTP answer.
    plain = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        plain.open(f"http://{https_server.host}/healthz", timeout=5).close()


def test_init_container_fetches_the_bundle_over_https(
    https_server: HttpsDockitServer, pki: DirectoryPki, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.pem"
    env = base_env(tmp_path)
    args = ["init-container", str(bundle), "--url", https_server.url, "--timeout", "10"]
    result = run_dockit([*args, "--ca-file", str(pki.ca_file)], env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert bundle.read_bytes() == https_server.certs_pem()
    # Without the CA the machine's trust store does not know it: a clear failure.
    other = tmp_path / "other.pem"
    failed = run_dockit(
        ["init-container", str(other), "--url", https_server.url, "--timeout", "1"],
        env=env,
        cwd=tmp_path,
    )
    assert failed.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in failed.stderr, failed.stderr
    assert not other.exists()


def test_healthcheck_follows_the_tls_setting(
    https_server: HttpsDockitServer, tmp_path: Path
) -> None:
    """The container HEALTHCHECK (``dockit healthcheck``) speaks HTTPS when Dockit does."""
    env = https_server.environment()
    env["DOCKIT_BIND"] = https_server.host
    result = run_dockit(["healthcheck"], env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plain = {k: v for k, v in env.items() if not k.startswith("DOCKIT_TLS_")}
    refused = run_dockit(["healthcheck"], env=plain, cwd=tmp_path)
    assert refused.returncode == 1
    assert f"http://{https_server.host}/readyz" in refused.stderr


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"DOCKIT_TLS_CERT_FILE": "cert"}, "server.tls_cert_file"),
        ({"DOCKIT_TLS_KEY_FILE": "key"}, "server.tls_cert_file"),
        (
            {"DOCKIT_TLS_CERT_FILE": "cert", "DOCKIT_TLS_KEY_FILE": "missing.key"},
            "server.tls_key_file",
        ),
    ],
)
def test_a_broken_tls_configuration_stops_the_start(
    tmp_path: Path, pki: DirectoryPki, settings: dict[str, str], named: str
) -> None:
    files = {"cert": str(pki.server_cert_file), "key": str(pki.server_key_file)}
    env = base_env(tmp_path)
    env.update(
        {
            "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path / 'dockit.db'}",
            "DOCKIT_SERVICES": SERVICE,
            "DOCKIT_ADMIN_PASSWORD": "admin-pw",
            "DOCKIT_BIND": f"127.0.0.1:{free_port()}",
        }
    )
    env.update({name: files.get(value, str(tmp_path / value)) for name, value in settings.items()})
    result = run_dockit(["api-server"], env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr, result.stderr


@pytest.mark.registry
def test_a_registry_sends_clients_to_an_https_realm(
    https_server: HttpsDockitServer, pki: DirectoryPki, tmp_path: Path
) -> None:
    """docker-registry 2.8 over HTTPS with ``realm: https://...``: skopeo verifies both the
    registry's certificate and Dockit's against the test CA (and nothing else), gets its token
    from Dockit over TLS and the push succeeds; a client that trusts another CA gets no
    further than the first TLS handshake."""
    from tests.support import oci, skopeo
    from tests.support.registry import Registry, self_signed_tls

    https_server.create_user("tls-pusher", "tls-pusher-pw")
    https_server.grant("user:tls-pusher", "repository:tls/*:pull,push")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(https_server.certs_pem())
    layout = tmp_path / "layout"
    oci.write_oci_layout(layout, tag="v1", marker="dockit-tls")
    registry_tls = self_signed_tls(tmp_path / "registry-tls")
    # skopeo trusts every *.crt in its cert directory, for the registry and the realm alike.
    trusted, realm_untrusted = tmp_path / "trusted-certs", tmp_path / "realm-untrusted-certs"
    for directory, dockit_ca in ((trusted, pki.ca_file), (realm_untrusted, pki.wrong_ca_file)):
        directory.mkdir()
        (directory / "registry.crt").write_bytes(registry_tls[0].read_bytes())
        (directory / "dockit-ca.crt").write_bytes(dockit_ca.read_bytes())
    registry = Registry(
        realm=https_server.token_realm,
        rootcertbundle=bundle,
        service=SERVICE,
        issuer=https_server.issuer,
        workdir=tmp_path / "registry",
        tls=registry_tls,
    )
    creds = ("tls-pusher", "tls-pusher-pw")
    with registry:
        assert https_server.token_realm.startswith("https://")
        assert registry.url.startswith("https://")
        pushed = skopeo.push(layout, "v1", registry.host, "tls/app", creds=creds, cert_dir=trusted)
        assert pushed.ok, pushed
        denied = skopeo.push(
            layout, "v1", registry.host, "other/app", creds=creds, cert_dir=trusted
        )
        assert not denied.ok
        assert "denied" in denied.stderr.lower() or "unauthorized" in denied.stderr.lower()
        # The registry is trusted, Dockit is not: the token request is what fails.
        refused = skopeo.push(
            layout, "v1", registry.host, "tls/app", creds=creds, cert_dir=realm_untrusted
        )
        assert not refused.ok
        realm_port = https_server.token_realm.split("://", 1)[1].split("/", 1)[0]
        assert "certificate" in refused.stderr.lower(), refused
        assert realm_port in refused.stderr, refused
