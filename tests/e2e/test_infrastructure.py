"""Self-tests of the end-to-end helpers in tests/support against the real tools.

A tiny token issuer defined here (grant what a rule allows, sign ES256 with ``x5c`` and a
libtrust ``kid``) lets the skopeo and docker wrappers be checked on a positive path too,
independently of dockit's own token service.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import oci, skopeo
from tests.support.docker_cli import docker_login, read_docker_config
from tests.support.procs import LOOPBACK, free_port
from tests.support.registry import Registry

pytestmark = pytest.mark.registry

SERVICE = "registry.test"
ISSUER = "infra-test-issuer"
USERS = {"alice": "alice-password"}


@dataclass
class SigningCert:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def make_self_signed(common_name: str = "test") -> SigningCert:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return SigningCert(key, cert)


def libtrust_kid(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b32 = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


# -- a minimal token issuer ------------------------------------------------------------------

Rule = Callable[[str, str, str], list[str]]  # (subject, resource type, name) -> actions


def alice_all_anonymous_pull(subject: str, rtype: str, name: str) -> list[str]:
    if rtype != "repository":
        return []
    return ["pull", "push", "delete"] if subject == "alice" else ["pull"]


@dataclass
class TokenIssuer:
    signer: SigningCert
    rule: Rule = alice_all_anonymous_pull
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def realm(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/token"

    def answer(self, query: dict[str, list[str]], authorization: str | None) -> tuple[int, Any]:
        subject = ""
        if authorization is not None:
            if not authorization.startswith("Basic "):
                return 401, {"errors": [{"code": "UNAUTHORIZED"}]}
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            if USERS.get(user) != password:
                return 401, {"errors": [{"code": "UNAUTHORIZED"}]}
            subject = user
        access = []
        for value in query.get("scope", []):
            for scope in value.split(" "):
                rtype, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                allowed = self.rule(subject, rtype, name)
                wanted = [a for a in actions.split(",") if a in allowed]
                access.append({"type": rtype, "name": name, "actions": wanted})
        now = int(dt.datetime.now(dt.UTC).timestamp())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        der = self.signer.cert.public_bytes(serialization.Encoding.DER)
        headers = {"x5c": [base64.b64encode(der).decode()], "kid": libtrust_kid(self.signer.cert)}
        token = jwt.encode(claims, self.signer.key, algorithm="ES256", headers=headers)
        return 200, {"token": token, "access_token": token, "expires_in": 300}


@pytest.fixture
def token_issuer(signer: SigningCert) -> Iterator[TokenIssuer]:
    issuer = TokenIssuer(signer)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            authorization = self.headers.get("Authorization")
            issuer.requests.append({"path": url.path, "query": query, "basic": bool(authorization)})
            status, body = issuer.answer(query, authorization)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    issuer.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def signer() -> SigningCert:
    return make_self_signed("test")


@pytest.fixture
def bundle(tmp_path: Path, signer: SigningCert) -> Path:
    path = tmp_path / "bundle.pem"
    path.write_bytes(signer.pem)
    return path


@pytest.fixture
def unreachable_realm() -> str:
    return f"http://{LOOPBACK}:{free_port()}/token"


@pytest.fixture
def registry(tmp_path: Path, bundle: Path, unreachable_realm: str) -> Iterator[Registry]:
    reg = Registry(
        realm=unreachable_realm,
        rootcertbundle=bundle,
        service=SERVICE,
        issuer=ISSUER,
        workdir=tmp_path / "registry",
    )
    with reg:
        yield reg


@pytest.fixture
def served_registry(tmp_path: Path, bundle: Path, token_issuer: TokenIssuer) -> Iterator[Registry]:
    reg = Registry(
        realm=token_issuer.realm,
        rootcertbundle=bundle,
        service=SERVICE,
        issuer=ISSUER,
        workdir=tmp_path / "served-registry",
    )
    with reg:
        yield reg


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, str]:
    directory = tmp_path / "layout"
    return directory, oci.write_oci_layout(directory, tag="v1", marker="infra-test")


# -- the registry ------------------------------------------------------------------------------


def test_registry_challenges_with_configured_realm_and_service(
    registry: Registry, unreachable_realm: str
) -> None:
    assert registry.url == f"http://{registry.host}"
    response = registry.get("/v2/")
    assert response.status == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == f'Bearer realm="{unreachable_realm}",service="{SERVICE}"'


def test_registry_config_has_token_auth_and_delete(registry: Registry, bundle: Path) -> None:
    text = registry.config_path.read_text()
    assert "version: 0.1" in text
    assert f'addr: "{registry.host}"' in text
    assert f'rootcertbundle: "{bundle}"' in text
    assert "delete:\n    enabled: true" in text


def test_restart_keeps_port_and_storage(registry: Registry, signer: SigningCert) -> None:
    first_pid = registry.pid
    (registry.storage_dir / "keep-me").write_text("x")
    registry.rootcertbundle.write_bytes(signer.pem + make_self_signed("second").pem)
    registry.restart()
    assert registry.pid != first_pid
    assert registry.running()
    assert registry.get("/v2/").status == 401
    assert (registry.storage_dir / "keep-me").exists()


def test_start_fails_loudly_on_a_bundle_without_certificates(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    reg = Registry(realm="http://127.0.0.1:1/token", rootcertbundle=empty, workdir=tmp_path / "reg")
    with pytest.raises(RuntimeError, match="exited"):
        reg.start()
    reg.stop()
    assert not reg.running()


def test_stop_removes_its_own_tempdir_and_keeps_the_log(bundle: Path) -> None:
    reg = Registry(realm="http://127.0.0.1:1/token", rootcertbundle=bundle).start()
    workdir = reg.workdir
    reg.stop()
    assert not workdir.exists()
    assert not reg.running()
    assert "listening on" in reg.log()


# -- the OCI layout ----------------------------------------------------------------------------


def test_oci_layout_is_readable_by_skopeo(layout: tuple[Path, str]) -> None:
    directory, digest = layout
    assert json.loads((directory / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    result = skopeo.inspect_layout(directory, "v1")
    assert result.ok, result
    info = result.json()
    assert info["Digest"] == digest
    assert info["Architecture"] == "amd64"
    assert info["Os"] == "linux"
    raw = skopeo.inspect_layout(directory, "v1", raw=True)
    assert raw.ok, raw
    assert oci.sha256_digest(raw.stdout.encode()) == digest


def test_oci_layout_is_deterministic_and_marked(tmp_path: Path) -> None:
    a = oci.write_oci_layout(tmp_path / "a", marker="one")
    b = oci.write_oci_layout(tmp_path / "b", marker="one")
    c = oci.write_oci_layout(tmp_path / "c", marker="two")
    d = oci.write_oci_layout(tmp_path / "d", files={"etc/x.conf": b"x=1\n"}, marker="one")
    assert a == b
    assert len({a, c, d}) == 3


def test_oci_layout_holds_several_tags(tmp_path: Path) -> None:
    first = oci.write_oci_layout(tmp_path, tag="one", marker="1")
    second = oci.write_oci_layout(tmp_path, tag="two", marker="2")
    again = oci.write_oci_layout(tmp_path, tag="one", marker="3")
    index = json.loads((tmp_path / "index.json").read_text())
    refs = {m["annotations"][oci.REF_NAME]: m["digest"] for m in index["manifests"]}
    assert refs == {"one": again, "two": second}
    assert first != again
    assert skopeo.inspect_layout(tmp_path, "two").json()["Digest"] == second


# -- skopeo against the registry ------------------------------------------------------------------


def test_anonymous_push_fails_when_realm_unreachable(
    registry: Registry, layout: tuple[Path, str]
) -> None:
    directory, _ = layout
    result = skopeo.push(directory, "v1", registry.host, "alice/hello", creds=None)
    assert result.returncode != 0
    assert "connection refused" in result.stderr.lower(), result


def test_push_with_creds_fails_when_realm_unreachable(
    registry: Registry, layout: tuple[Path, str]
) -> None:
    directory, _ = layout
    result = skopeo.push(
        directory, "v1", registry.host, "alice/hello", creds=("alice", "alice-password")
    )
    assert result.returncode != 0


def test_push_inspect_list_pull_delete_round_trip(
    served_registry: Registry, layout: tuple[Path, str], tmp_path: Path, token_issuer: TokenIssuer
) -> None:
    directory, digest = layout
    creds = ("alice", USERS["alice"])
    host = served_registry.host

    pushed = skopeo.push(directory, "v1", host, "alice/hello", creds=creds)
    assert pushed.ok, f"{pushed}\n{served_registry.log()[-3000:]}"
    token_request = token_issuer.requests[-1]
    assert token_request["basic"] is True
    assert token_request["query"]["service"] == [SERVICE]
    assert token_request["query"]["account"] == ["alice"]

    inspected = skopeo.inspect(host, "alice/hello", "v1", creds=creds)
    assert inspected.ok, inspected
    assert inspected.json()["Digest"] == digest

    tags = skopeo.list_tags(host, "alice/hello", creds=None)
    assert tags.ok, tags
    assert tags.json()["Tags"] == ["v1"]

    pulled = skopeo.pull(host, "alice/hello", "v1", tmp_path / "pulled", creds=None)
    assert pulled.ok, pulled
    assert skopeo.inspect_layout(tmp_path / "pulled", "v1").json()["Digest"] == digest

    denied = skopeo.delete(host, "alice/hello", "v1", creds=None)
    assert denied.returncode != 0
    deleted = skopeo.delete(host, "alice/hello", "v1", creds=creds)
    assert deleted.ok, deleted
    assert skopeo.inspect(host, "alice/hello", "v1", creds=creds).returncode != 0


def test_anonymous_push_is_denied_by_the_token(
    served_registry: Registry, layout: tuple[Path, str]
) -> None:
    directory, _ = layout
    result = skopeo.push(directory, "v1", served_registry.host, "alice/hello", creds=None)
    assert result.returncode != 0
    assert "denied" in result.stderr, result


def test_wrong_password_fails(served_registry: Registry) -> None:
    result = skopeo.list_tags(served_registry.host, "alice/hello", creds=("alice", "wrong"))
    assert result.returncode != 0


# -- the docker CLI ----------------------------------------------------------------------------


@pytest.mark.docker_cli
def test_docker_login_without_daemon(
    served_registry: Registry, tmp_path: Path, token_issuer: TokenIssuer
) -> None:
    config_dir = tmp_path / "docker"
    result = docker_login(served_registry.host, "alice", USERS["alice"], config_dir)
    assert result.returncode == 0, result.stderr
    auths = read_docker_config(config_dir)["auths"]
    expected = base64.b64encode(b"alice:" + USERS["alice"].encode()).decode()
    assert auths[served_registry.host]["auth"] == expected
    query = token_issuer.requests[-1]["query"]
    assert query["client_id"] == ["docker"]
    assert query["offline_token"] == ["true"]


@pytest.mark.docker_cli
def test_docker_login_fails_with_a_bad_password(served_registry: Registry, tmp_path: Path) -> None:
    config_dir = tmp_path / "docker"
    result = docker_login(served_registry.host, "alice", "wrong", config_dir)
    assert result.returncode != 0
    assert served_registry.host not in read_docker_config(config_dir).get("auths", {})
