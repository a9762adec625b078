"""``dockit init-container`` (the real CLI) against misbehaving HTTP servers on loopback: a
connection that drops before the announced length, a last certificate cut off, a block that
is not a certificate, an https URL that redirects to http. Each exits non-zero with a clear
message and leaves the existing bundle as it was."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path

import pytest

from dockit_server.init_container import plain_http_warning
from libdockit.testing.pki import make_ca
from tests.support.dockit import base_env, run_dockit
from tests.support.slapd import DirectoryPki

OLD_BUNDLE = b"the bundle the registry has now\n"


def certificate_pem(name: str) -> bytes:
    return make_ca(name).chain_pem()


class RawServer:
    """Answers every request on 127.0.0.1 with ``answer`` bytes as they are, then closes."""

    def __init__(self, answer: bytes, context: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._context = context
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), conn:
                conn.settimeout(5)
                stream = (
                    self._context.wrap_socket(conn, server_side=True) if self._context else conn
                )
                with stream:
                    stream.recv(65536)
                    stream.sendall(self.answer)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


def http_answer(body: bytes, *, length: int | None = None, status: str = "200 OK") -> bytes:
    declared = len(body) if length is None else length
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/x-pem-file\r\n"
    head += f"Content-Length: {declared}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "certs.pem"
    path.write_bytes(OLD_BUNDLE)
    return path


def init_container(bundle: Path, url: str, *extra: str) -> tuple[int, str]:
    env = base_env(bundle.parent)
    args = ["init-container", str(bundle), "--url", url, "--timeout", "3", *extra]
    done = run_dockit(args, env=env, cwd=bundle.parent, timeout=60)
    return done.returncode, done.stderr


GOOD = certificate_pem("first") + certificate_pem("second")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (http_answer(GOOD[: len(GOOD) // 2], length=len(GOOD)), "connection dropped early"),
        (http_answer(GOOD[:-200]), "cut off"),
        (http_answer(GOOD + b"-----BEGIN CERTIFICATE-----\nMIIB\n"), "cut off"),
        (
            http_answer(GOOD + b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            "PRIVATE KEY",
        ),
        (http_answer(GOOD + b"garbage after the certificates\n"), "not PEM"),
    ],
    ids=["short-body", "last-cut", "dangling-begin", "other-block", "stray-text"],
)
def test_a_broken_answer_leaves_the_bundle_alone(bundle: Path, answer: bytes, message: str) -> None:
    with RawServer(answer) as server:
        code, stderr = init_container(bundle, f"http://127.0.0.1:{server.port}")
    assert code != 0
    assert message in stderr, stderr
    assert bundle.read_bytes() == OLD_BUNDLE
    assert [p.name for p in bundle.parent.iterdir() if p.name.startswith(".certs")] == []


def test_a_good_answer_is_written(bundle: Path) -> None:
    with RawServer(http_answer(GOOD)) as server:
        code, stderr = init_container(bundle, f"http://127.0.0.1:{server.port}")
    assert code == 0, stderr
    assert bundle.read_bytes() == GOOD
    assert "plain http" not in stderr  # loopback: nothing leaves the machine


def test_an_https_to_http_redirect_is_refused(bundle: Path, tmp_path: Path) -> None:
    pki = DirectoryPki.create(tmp_path / "pki")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert_file, pki.server_key_file)
    with RawServer(http_answer(GOOD)) as plain:
        target = f"http://127.0.0.1:{plain.port}/v2/certs/pem"
        moved = http_answer(b"", status="302 Found").replace(
            b"Connection: close", f"Location: {target}\r\nConnection: close".encode()
        )
        with RawServer(moved, context) as tls:
            url = f"https://127.0.0.1:{tls.port}"
            code, stderr = init_container(bundle, url, "--ca-file", str(pki.ca_file))
    assert code != 0
    assert "refusing to fetch the bundle over a connection without TLS" in stderr, stderr
    assert bundle.read_bytes() == OLD_BUNDLE


def test_plain_http_to_another_host_is_warned_about() -> None:
    warning = plain_http_warning("http://dockit.example.com:4315/v2/certs/pem")
    assert warning is not None
    assert "plain http" in warning
    assert plain_http_warning("https://dockit.example.com/v2/certs/pem") is None
    assert plain_http_warning("http://127.0.0.1:4315/v2/certs/pem") is None
    assert plain_http_warning("http://localhost:4315/v2/certs/pem") is None
