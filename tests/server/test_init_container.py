"""init-container against a small real HTTP server on loopback (not a mock of urllib)."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dockit_server.cli import main
from dockit_server.init_container import (
    JWKS_PATH,
    Backoff,
    InitContainerError,
    bundle_url,
    fetch_bundle,
    run,
)


def make_cert_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class Script:
    """What the fake Dockit answers, one entry per request (the last one repeats)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = [(200, make_cert_pem())]
        self.requests = 0


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            index = min(script.requests, len(script.answers) - 1)
            script.requests += 1
            status, body = script.answers[index]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


FAST = Backoff(timeout=2.0, first_delay=0.05, max_delay=0.2, attempt_timeout=1.0)


def test_bundle_url() -> None:
    assert bundle_url("http://d:4315") == "http://d:4315/v2/certs/pem"
    assert bundle_url("http://d:4315/") == "http://d:4315/v2/certs/pem"
    assert bundle_url("http://d/v2/certs/pem") == "http://d/v2/certs/pem"


def test_writes_bundle_atomically_with_mode_0644(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    target = tmp_path / "certs.pem"
    assert run(target, url, FAST) == 1
    assert target.read_bytes() == script.answers[0][1]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["certs.pem"]


def test_retries_server_errors(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    good = script.answers[0]
    script.answers = [(503, b"starting"), (502, b""), good]
    assert run(tmp_path / "certs.pem", url, FAST) == 1
    assert script.requests == 3


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((200, b"not a certificate"), "usable bundle"),
        ((200, b""), "usable bundle"),
        ((404, b"nope"), "HTTP 404"),
    ],
)
def test_bad_answers_leave_the_file_alone(
    server: tuple[str, Script], tmp_path: Path, answer: tuple[int, bytes], message: str
) -> None:
    url, script = server
    script.answers = [answer]
    target = tmp_path / "certs.pem"
    target.write_bytes(b"previous bundle")
    with pytest.raises(InitContainerError, match=message):
        run(target, url, FAST)
    assert target.read_bytes() == b"previous bundle"
    assert [p.name for p in tmp_path.iterdir()] == ["certs.pem"]


JWKS = b'{"keys": [{"kty": "EC", "kid": "AAAA:BBBB", "crv": "P-256", "x": "x", "y": "y"}]}'


def test_writes_the_jwks_with_jwks(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.answers = [(200, JWKS)]
    target = tmp_path / "jwks.json"
    assert run(target, url, FAST, jwks=True) == 1
    assert target.read_bytes() == JWKS
    assert bundle_url(url, JWKS_PATH) == url + "/v2/certs/jwks"


@pytest.mark.parametrize(
    "body",
    [b"-----BEGIN CERTIFICATE-----", b'{"keys": []}', b'{"keys": [{"kty": "EC"}]}', b"[]"],
)
def test_a_bad_jwks_leaves_the_file_alone(
    server: tuple[str, Script], tmp_path: Path, body: bytes
) -> None:
    url, script = server
    script.answers = [(200, body)]
    target = tmp_path / "jwks.json"
    target.write_bytes(JWKS)
    with pytest.raises(InitContainerError, match="usable JWK Set"):
        run(target, url, FAST, jwks=True)
    assert target.read_bytes() == JWKS


def test_gives_up_after_the_timeout_with_backoff() -> None:
    sleeps: list[float] = []
    clock = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    with pytest.raises(InitContainerError, match="gave up"):
        fetch_bundle(
            "http://127.0.0.1:9/v2/certs/pem",
            Backoff(timeout=3.0, first_delay=0.25, max_delay=1.0, attempt_timeout=0.5),
            sleep=sleep,
            monotonic=lambda: clock[0],
        )
    assert sleeps[:3] == [0.25, 0.5, 1.0]
    assert all(delay <= 1.0 for delay in sleeps)
    assert sum(sleeps) <= 3.0


def test_cli_exit_codes(
    server: tuple[str, Script], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, script = server
    target = tmp_path / "certs.pem"
    assert main(["init-container", str(target), "--url", url, "--timeout", "2"]) == 0
    assert "wrote 1 certificate" in capsys.readouterr().out
    script.answers = [(200, b"garbage")]
    assert main(["init-container", str(target), "--url", url, "--timeout", "2"]) == 1
    assert "usable bundle" in capsys.readouterr().err
    missing_dir = tmp_path / "missing" / "certs.pem"
    script.answers = [(200, make_cert_pem())]
    assert main(["init-container", str(missing_dir), "--url", url, "--timeout", "2"]) == 1
    assert "does not exist" in capsys.readouterr().err
