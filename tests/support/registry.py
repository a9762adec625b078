"""A real Debian ``docker-registry`` (distribution 2.8.2) with token auth, for end-to-end tests.

It speaks plain HTTP unless given ``tls=(certificate, key)`` (see :func:`self_signed_tls`):
clients that insist on HTTPS, such as ``docker manifest inspect --insecure``, need that.

The registry reads its ``rootcertbundle`` only when it starts, so after rewriting the bundle
call :meth:`Registry.restart`. It listens on a free loopback port and keeps its storage across
restarts. ``REGISTRY_*`` variables are removed from its environment: distribution maps them
onto config keys (``REGISTRY_AUTH_FILE`` would become ``auth.file``), so a variable meant for
skopeo could otherwise silently change the registry's configuration.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from types import TracebackType

from tests.support.procs import LOOPBACK, ManagedProcess, free_port, require_binary

DEFAULT_SERVICE = "registry.test"
DEFAULT_ISSUER = "dockit-test"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Message
    body: bytes


def http_get(
    host: str, port: int, path: str, *, timeout: float = 2.0, tls: bool = False
) -> HttpResponse:
    """One GET to ``host:port`` (HTTPS without certificate checks when ``tls``, for a test
    registry on loopback); the connection is always closed."""
    conn: http.client.HTTPConnection
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return HttpResponse(response.status, response.headers, body)
    finally:
        conn.close()


def self_signed_tls(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for ``127.0.0.1`` (one day), written as
    ``tls-cert.pem`` and ``tls-key.pem`` in ``directory``; returns (certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "tls-cert.pem", directory / "tls-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _yaml_str(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(value)


class Registry:
    """``docker-registry serve CONFIG`` with ``auth.token`` on ``127.0.0.1:PORT``.

    ``workdir`` holds the config, the storage and the log; a temporary directory is made
    (and removed by :meth:`stop`) when it is not given.
    """

    def __init__(
        self,
        *,
        realm: str,
        rootcertbundle: Path | str,
        service: str = DEFAULT_SERVICE,
        issuer: str = DEFAULT_ISSUER,
        workdir: Path | str | None = None,
        port: int | None = None,
        startup_timeout: float = 20.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.binary = require_binary("docker-registry", hint="apt-get install docker-registry")
        self.tls = tls
        self.realm = realm
        self.service = service
        self.issuer = issuer
        self.rootcertbundle = Path(rootcertbundle)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="dockit-registry-")
            workdir = self._tempdir.name
        self.workdir = Path(workdir)
        self.port = port if port is not None else free_port()
        self.storage_dir = self.workdir / "storage"
        self.config_path = self.workdir / "config.yml"
        self.log_path = self.workdir / "registry.log"
        self.startup_timeout = startup_timeout
        self._process: ManagedProcess | None = None
        self._final_log = ""

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    def config_text(self) -> str:
        return "\n".join(
            [
                "version: 0.1",
                "log:",
                "  level: info",
                "  fields:",
                "    service: registry",
                "storage:",
                "  filesystem:",
                f"    rootdirectory: {_yaml_str(str(self.storage_dir))}",
                "  delete:",
                "    enabled: true",
                "http:",
                f"  addr: {_yaml_str(self.host)}",
                # A fixed secret silences the "generated random secret" warning.
                '  secret: "dockit-tests-not-a-secret"',
                *self._tls_lines(),
                "auth:",
                "  token:",
                f"    realm: {_yaml_str(self.realm)}",
                f"    service: {_yaml_str(self.service)}",
                f"    issuer: {_yaml_str(self.issuer)}",
                f"    rootcertbundle: {_yaml_str(str(self.rootcertbundle))}",
                "",
            ]
        )

    def _tls_lines(self) -> list[str]:
        if self.tls is None:
            return []
        certificate, key = self.tls
        return [
            "  tls:",
            f"    certificate: {_yaml_str(str(certificate))}",
            f"    key: {_yaml_str(str(key))}",
        ]

    def write_config(self) -> Path:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text())
        return self.config_path

    def get(self, path: str = "/v2/") -> HttpResponse:
        return http_get(LOOPBACK, self.port, path, tls=self.tls is not None)

    def _answers_401(self) -> bool:
        try:
            return self.get("/v2/").status == 401
        except OSError:
            return False

    def start(self) -> Registry:
        if self.running():
            raise RuntimeError(f"registry already running as PID {self.pid}")
        self.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self._process = ManagedProcess(
            [self.binary, "serve", str(self.config_path)],
            log_path=self.log_path,
            env=env,
            cwd=self.workdir,
        )
        try:
            self._process.wait_ready(self._answers_401, timeout=self.startup_timeout)
        except BaseException:
            self._process.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the process (by PID) and remove a workdir this object created."""
        self._stop_process()
        if self._tempdir is not None:
            self._final_log = self.log()
            self._tempdir.cleanup()
            self._tempdir = None

    def _stop_process(self) -> None:
        if self._process is not None:
            self._process.stop()

    def restart(self) -> Registry:
        """Stop and start again on the same port and storage (re-reads the bundle)."""
        self._stop_process()
        self._process = None
        return self.start()

    def log(self) -> str:
        """Everything the registry wrote (all runs), also after :meth:`stop`."""
        if self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return self._final_log

    def __enter__(self) -> Registry:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
