"""One deadline per directory call (``ldap.timeout``) and a bound on calls at once
(``ldap.max_concurrent``), against a real slapd paused with SIGSTOP and a server that
accepts connections and never answers.

The per-server timeouts here are far longer than the call's deadline, so only the deadline
can end these calls: the assertions are on what ends them (the message, how many
connections the directory saw), never on how long they took.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator

import pytest

from libdockit.backends.ldap.backend import LdapAuthenticator
from libdockit.errors import BackendUnavailable
from libdockit.secret import Secret
from tests.support.procs import LOOPBACK, paused
from tests.support.slapd import Slapd, directory_config

pytestmark = pytest.mark.ldap

ALICE = Secret("alice-pw")


@pytest.fixture
def slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


class CountingHangingServer:
    """Accepts TCP connections and never says a word; notes the most that were open at
    once (a connection the client closed is noticed before any new one is accepted)."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._open: list[socket.socket] = []
        self.accepted = 0
        self.most_open = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ldap://{LOOPBACK}:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._listener, *self._open], [], [], 0.05)
            for sock in readable:
                if sock is not self._listener and sock.recv(4096) == b"":
                    self._open.remove(sock)  # closed by the client
                    sock.close()
            if self._listener in readable:
                with contextlib.suppress(BlockingIOError):
                    connection, _ = self._listener.accept()
                    self._open.append(connection)
                    self.accepted += 1
                    self.most_open = max(self.most_open, len(self._open))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for connection in self._open:
            connection.close()
        self._listener.close()


@pytest.fixture
def hanging() -> Iterator[CountingHangingServer]:
    server = CountingHangingServer()
    try:
        yield server
    finally:
        server.close()


def test_a_hang_costs_one_deadline_across_the_pooled_connection_and_every_url(
    slapd: Slapd,
) -> None:
    config = directory_config(
        slapd,
        urls=(slapd.url, slapd.url, slapd.url),
        receive_timeout=60,
        connect_timeout=60,
        timeout=1.0,
        password_cache_seconds=0,
        group_cache_seconds=0,
    )
    authenticator = LdapAuthenticator(config)
    try:
        assert authenticator.authenticate("alice", ALICE) is not None  # a pooled connection
        assert slapd.pid is not None
        with paused([slapd.pid]):
            with pytest.raises(BackendUnavailable, match=r"within ldap\.timeout \(1 s\)"):
                authenticator.authenticate("alice", ALICE)
            with pytest.raises(BackendUnavailable, match=r"ldap\.timeout"):
                authenticator.identity_for("alice")
            with pytest.raises(BackendUnavailable, match=r"ldap\.timeout"):
                authenticator.ping()
        # Back: the first call after the pause answers (the hung connections were dropped).
        assert authenticator.authenticate("alice", ALICE) is not None
    finally:
        authenticator.close()


def test_calls_take_turns_so_a_hanging_directory_sees_max_concurrent_at_once(
    slapd: Slapd, hanging: CountingHangingServer
) -> None:
    config = directory_config(
        slapd,
        urls=(hanging.url,),
        receive_timeout=60,
        connect_timeout=60,
        timeout=1.0,
        max_concurrent=2,
        password_cache_seconds=0,
    )
    authenticator = LdapAuthenticator(config)
    outcomes: list[str] = []

    def login() -> None:
        try:
            authenticator.authenticate("alice", ALICE)
            outcomes.append("answered")
        except BackendUnavailable as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=login) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        authenticator.close()
    assert len(outcomes) == 6
    assert all("LDAP directory" in outcome for outcome in outcomes), outcomes
    assert hanging.accepted >= 2
    assert hanging.most_open <= 2  # two calls at a time; the others waited their turn
