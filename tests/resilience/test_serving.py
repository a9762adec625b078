"""The serving model against clients that misbehave, reuse connections, or all come at once.

* Idle and slow clients (hundreds of connections that send nothing, or a request one byte
  at a time, or a body that stops) do not keep a well-behaved client from its tokens, over
  HTTP and over HTTPS served by Dockit; each such connection is cut after
  ``server.read_timeout`` and counted by reason in ``dockit_connections_cut_total``; a
  trickled body gets 408; no worker is killed.
* A client that keeps its connection gets it reused; one that asks to close gets it closed.
* 500 clients asking for a token at the same moment are all answered with a token.

Pass/fail on behaviour only (answered, status, counts, worker PIDs); timings live in bench/.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.resilience.test_tls import HttpsDockitServer
from tests.support.dockit import DockitServer, basic_auth
from tests.support.procs import LOOPBACK, children
from tests.support.promtext import sample_value
from tests.support.slapd import DirectoryPki
from tests.support.storm import request_bytes, storm

SERVICE = "registry.test"
READ_TIMEOUT = 2  # seconds: short, so that the cuts happen within the test
IDLE_CLIENTS = 300
SLOW_CLIENTS = 50
SLOW_BODIES = 5
WELL_BEHAVED_REQUESTS = 40
USER = ("bob", "bob-pw-123")


def _token_path() -> str:
    return "/v2/token?" + urlencode({"service": SERVICE, "scope": "repository:bob/app:pull"})


def _prepare(server: DockitServer) -> None:
    server.create_user(*USER)
    server.grant("user:bob", "repository:bob/**:pull")
    server.grant("anonymous", "repository:public/*:pull")


def _cuts(server: DockitServer) -> dict[str, float]:
    text = server.get("/metrics").body.decode()
    found = {
        reason: sample_value(text, "dockit_connections_cut_total", reason=reason)
        for reason in ("idle", "slow_head", "slow_body", "tls_handshake")
    }
    return {reason: value for reason, value in found.items() if value is not None}


class _Attack:
    """Idle connections, and clients that send a request (or a body) one byte at a time,
    all against one server, for as long as the block lasts; every socket is closed at the
    end. ``context``: connect over TLS (``idle_tls`` more connect and never start TLS)."""

    def __init__(self, port: int, context: ssl.SSLContext | None) -> None:
        self._port = port
        self._context = context
        self._stop = threading.Event()
        self.idle: list[socket.socket] = []
        self.untouched_tls: list[socket.socket] = []
        self.body_answers: list[bytes] = []
        self.slow_ended = 0
        self._threads: list[threading.Thread] = []

    def _connect(self) -> Any:
        sock = socket.create_connection((LOOPBACK, self._port), timeout=30)
        if self._context is not None:
            return self._context.wrap_socket(sock, server_hostname="localhost")
        return sock

    def _trickle(self, payload: bytes) -> None:
        """Send ``payload`` a byte at a time until the server cuts the connection."""
        sock = self._connect()
        try:
            for byte in payload:
                if self._stop.is_set():
                    return
                sock.sendall(bytes([byte]))
                self._stop.wait(0.25)
            sock.settimeout(10)
            if sock.recv(4096) == b"":
                self.slow_ended += 1
        except OSError:  # a reset, or a broken pipe: cut by the server
            self.slow_ended += 1
        finally:
            sock.close()

    def __enter__(self) -> _Attack:
        self.idle = [self._connect() for _ in range(IDLE_CLIENTS)]
        if self._context is not None:
            self.untouched_tls = [
                socket.create_connection((LOOPBACK, self._port), timeout=30)
                for _ in range(SLOW_CLIENTS)
            ]
        head = f"GET {_token_path()} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        form = b"grant_type=password&service=x&client_id=y&username=bob&password=bob-pw-123"
        post = (
            b"POST /v2/token HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(form)).encode() + b"\r\n\r\n"
        )
        self._threads = [
            threading.Thread(target=self._trickle, args=(head,), daemon=True)
            for _ in range(SLOW_CLIENTS)
        ]
        for _ in range(SLOW_BODIES):

            def slow_body(payload: bytes = form) -> None:
                sock = self._connect()
                try:
                    sock.sendall(post + payload[:3])
                    sock.settimeout(30)
                    answer = b""
                    while chunk := sock.recv(4096):  # until the server closes
                        answer += chunk
                    self.body_answers.append(answer)
                except OSError as exc:
                    self.body_answers.append(repr(exc).encode())
                finally:
                    sock.close()

            self._threads.append(threading.Thread(target=slow_body, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def idle_closed_by_server(self) -> int:
        """How many idle connections the server has closed (they read EOF or a reset)."""
        closed = 0
        for sock in [*self.idle, *self.untouched_tls]:
            sock.settimeout(READ_TIMEOUT * 5)
            try:
                data = sock.recv(1)
            except (ssl.SSLError, OSError):
                closed += 1
                continue
            closed += data == b""
        return closed

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        for sock in [*self.idle, *self.untouched_tls]:
            sock.close()


def _well_behaved(server: DockitServer) -> list[int]:
    """Token requests one after another, each on a new connection, as a registry client."""
    statuses = []
    for _ in range(WELL_BEHAVED_REQUESTS):
        answer = server.request("GET", _token_path(), creds=USER, timeout=30)
        statuses.append(answer.status)
    return statuses


def _check_nothing_killed(server: DockitServer, workers: set[int]) -> None:
    assert server.pid is not None
    assert children(server.pid) == workers
    log = server.log()
    assert "WORKER TIMEOUT" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def _client_context(pki: DirectoryPki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_file))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DirectoryPki:
    return DirectoryPki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(params=["http", "https"])
def attacked(
    request: pytest.FixtureRequest, tmp_path: Path, pki: DirectoryPki
) -> Iterator[tuple[DockitServer, ssl.SSLContext | None]]:
    env = {"DOCKIT_READ_TIMEOUT": str(READ_TIMEOUT)}
    server: DockitServer
    context = None
    if request.param == "https":
        server = HttpsDockitServer(tmp_path, pki, workers=2)
        server.extra_env.update(env)
        context = _client_context(pki)
    else:
        server = DockitServer(tmp_path, workers=2, extra_env=env)
    with server:
        _prepare(server)
        yield server, context


def test_idle_and_slow_clients_do_not_starve_a_well_behaved_one(
    attacked: tuple[DockitServer, ssl.SSLContext | None],
) -> None:
    server, context = attacked
    assert server.pid is not None
    workers = children(server.pid)
    assert len(workers) == 2
    assert _well_behaved(server) == [200] * WELL_BEHAVED_REQUESTS  # the idle server
    before = _cuts(server)
    with _Attack(server.port, context) as attack:
        # Requests while every attacker is connected, then past the read timeout, while
        # the cut ones are gone and the slow ones are still trickling.
        statuses = _well_behaved(server)
        time.sleep(READ_TIMEOUT + 1)
        statuses += _well_behaved(server)
        closed = attack.idle_closed_by_server()
    assert statuses == [200] * (2 * WELL_BEHAVED_REQUESTS)
    assert closed == len(attack.idle) + len(attack.untouched_tls)
    assert attack.slow_ended == SLOW_CLIENTS
    # A body that stops arriving is answered 408 with a distribution-style error.
    assert len(attack.body_answers) == SLOW_BODIES
    for answer in attack.body_answers:
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"Connection: close" in answer
        assert b'"code": "REQUEST_TIMEOUT"' in answer
    cuts = {reason: value - before.get(reason, 0.0) for reason, value in _cuts(server).items()}
    assert cuts["idle"] >= IDLE_CLIENTS
    assert cuts["slow_head"] >= SLOW_CLIENTS
    assert cuts["slow_body"] >= SLOW_BODIES
    assert cuts["tls_handshake"] >= (SLOW_CLIENTS if context is not None else 0)
    _check_nothing_killed(server, workers)


def test_kept_alive_connections_are_reused(tmp_path: Path) -> None:
    with DockitServer(tmp_path, workers=2) as server:
        _prepare(server)
        connection = http.client.HTTPConnection(LOOPBACK, server.port, timeout=10)
        try:
            ports = set()
            for _ in range(20):
                connection.request(
                    "GET", _token_path(), headers={"Authorization": basic_auth(USER)}
                )
                response = connection.getresponse()
                response.read()
                assert response.status == 200
                assert response.getheader("Connection") == "keep-alive"
                assert connection.sock is not None
                ports.add(connection.sock.getsockname()[1])
            assert len(ports) == 1  # one connection for all twenty
            connection.request("GET", "/healthz", headers={"Connection": "close"})
            response = connection.getresponse()
            response.read()
            assert response.getheader("Connection") == "close"
            assert response.will_close
        finally:
            connection.close()


def test_a_storm_of_500_clients_is_all_answered(tmp_path: Path) -> None:
    with DockitServer(tmp_path, workers=2) as server:
        _prepare(server)
        assert server.token(SERVICE, ["repository:bob/app:pull"], USER).status == 200
        payload = request_bytes(_token_path(), server.host, (("Authorization", basic_auth(USER)),))
        answers = storm(LOOPBACK, server.port, payload, clients=500)
        assert len(answers) == 500
        failed = [a for a in answers if a.status != 200 or b'"token"' not in a.body]
        assert failed == [], failed[:3]
        assert server.pid is not None
        assert "WORKER TIMEOUT" not in server.log()
