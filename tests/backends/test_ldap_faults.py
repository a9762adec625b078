"""When the directory cannot answer: failover, outages and recovery, hanging servers, TLS
that does not verify. Every such case is BackendUnavailable ("cannot tell", HTTP 503), never
None ("bad credentials") for a good password, and the first call after the directory is back
succeeds with the same authenticator.

Tests of outages turn the password cache off (``password_cache_seconds=0``), so that every
login searches and binds; what the cache does during an outage is in test_ldap.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from libdockit.backends.ldap.backend import LdapAuthenticator
from libdockit.errors import BackendUnavailable, ConfigError
from libdockit.model import Identity
from libdockit.secret import Secret
from tests.support.procs import LOOPBACK, free_port
from tests.support.slapd import TLS_MODES, Slapd, TlsMode, directory_config

pytestmark = pytest.mark.ldap

ALICE = Secret("alice-pw")


@pytest.fixture(scope="module")
def slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


@pytest.fixture
def own_slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A server that accepts TCP connections and never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(16)
        yield f"ldap://{LOOPBACK}:{listener.getsockname()[1]}"


def dead_url() -> str:
    return f"ldap://{LOOPBACK}:{free_port()}"  # nothing listens there


def alice_logs_in(authenticator: LdapAuthenticator) -> bool:
    identity = authenticator.authenticate("alice", ALICE)
    return identity is not None and identity.groups == ("developers",)


# -- failover -------------------------------------------------------------------------------


def test_failover_to_the_second_url(slapd: Slapd) -> None:
    first_dead = dead_url()
    authenticator = LdapAuthenticator(directory_config(slapd, urls=(first_dead, slapd.url)))
    try:
        assert alice_logs_in(authenticator)
        assert authenticator.groups_for("bob") == ("ops",)
        authenticator.ping()
    finally:
        authenticator.close()


def test_failover_in_every_tls_mode(slapd: Slapd) -> None:
    for mode in TLS_MODES:
        good = directory_config(slapd, mode=mode)
        dead = f"ldaps://{LOOPBACK}:{free_port()}" if mode == "ldaps" else dead_url()
        authenticator = LdapAuthenticator(
            directory_config(slapd, mode=mode, urls=(dead, *good.urls))
        )
        try:
            assert alice_logs_in(authenticator), mode
        finally:
            authenticator.close()


def test_no_server_answers(slapd: Slapd) -> None:
    urls = (dead_url(), dead_url())
    authenticator = LdapAuthenticator(directory_config(slapd, urls=urls))
    try:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as caught:
            authenticator.authenticate("alice", ALICE)
        assert time.monotonic() - started < 5
        for url in urls:
            assert url in caught.value.message
        assert "alice-pw" not in caught.value.message
        with pytest.raises(BackendUnavailable):
            authenticator.groups_for("alice")
        with pytest.raises(BackendUnavailable):
            authenticator.ping()
        # Bad credentials that never reach the directory stay bad credentials.
        assert authenticator.authenticate("alice", Secret("")) is None
        assert authenticator.authenticate("*", ALICE) is None
    finally:
        authenticator.close()


def test_a_hanging_server_times_out_and_the_next_one_answers(
    slapd: Slapd, hanging_url: str
) -> None:
    config = directory_config(slapd, urls=(hanging_url,), receive_timeout=1, connect_timeout=1)
    authenticator = LdapAuthenticator(config)
    try:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match=hanging_url):
            authenticator.authenticate("alice", ALICE)
        assert time.monotonic() - started < 10
    finally:
        authenticator.close()
    config = directory_config(
        slapd,
        urls=(hanging_url, slapd.url),
        receive_timeout=1,
        connect_timeout=1,
        password_cache_seconds=0,
    )
    authenticator = LdapAuthenticator(config)
    try:
        assert alice_logs_in(authenticator)
        started = time.monotonic()
        assert alice_logs_in(authenticator)  # the server that answered is now tried first
        assert time.monotonic() - started < 1
    finally:
        authenticator.close()


# -- outage and recovery --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", TLS_MODES)
def test_slapd_stopped_then_started_again(own_slapd: Slapd, mode: TlsMode) -> None:
    authenticator = LdapAuthenticator(
        directory_config(own_slapd, mode=mode, password_cache_seconds=0)
    )
    try:
        assert alice_logs_in(authenticator)
        authenticator.forget_groups()
        own_slapd.stop()
        for _ in range(3):
            with pytest.raises(BackendUnavailable, match=r"unavailable|stopped answering"):
                authenticator.authenticate("alice", ALICE)
        with pytest.raises(BackendUnavailable):
            authenticator.ping()
        own_slapd.restart()
        assert alice_logs_in(authenticator)
        authenticator.ping()
    finally:
        authenticator.close()


def test_a_restart_between_requests_goes_unnoticed(own_slapd: Slapd) -> None:
    """The pooled search connection dies with the restart; it is replaced transparently."""
    authenticator = LdapAuthenticator(
        directory_config(own_slapd, group_cache_seconds=0, password_cache_seconds=0)
    )
    try:
        assert alice_logs_in(authenticator)
        own_slapd.restart()
        assert alice_logs_in(authenticator)
        assert authenticator.groups_for("dave") == ("developers", "frontend")
    finally:
        authenticator.close()


def test_logins_in_threads_across_a_restart(own_slapd: Slapd) -> None:
    """A good password gets an identity or BackendUnavailable, never None."""
    authenticator = LdapAuthenticator(
        directory_config(own_slapd, group_cache_seconds=0, password_cache_seconds=0)
    )
    outcomes: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                identity = authenticator.authenticate("alice", ALICE)
                outcome = "ok" if isinstance(identity, Identity) else "bad credentials"
            except BackendUnavailable:
                outcome = "unavailable"
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        own_slapd.stop()
        time.sleep(0.3)
        own_slapd.start()
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        authenticator.close()
    assert "bad credentials" not in outcomes
    assert "unavailable" in outcomes
    assert outcomes[-1] == "ok"


# -- TLS that must not verify ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_wrong_ca_is_unavailable(slapd: Slapd, mode: TlsMode) -> None:
    authenticator = LdapAuthenticator(
        directory_config(slapd, mode=mode, ca_file=slapd.pki.wrong_ca_file)
    )
    try:
        with pytest.raises(BackendUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            authenticator.authenticate("alice", ALICE)
    finally:
        authenticator.close()


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_certificate_for_another_host_is_unavailable(mode: TlsMode) -> None:
    with Slapd(server_names=("ldap.example.test",)) as server:
        authenticator = LdapAuthenticator(directory_config(server, mode=mode))
        try:
            with pytest.raises(BackendUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
                authenticator.authenticate("alice", ALICE)
        finally:
            authenticator.close()


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_client_certificate(mode: TlsMode) -> None:
    with Slapd(verify_client="demand") as server:
        without = LdapAuthenticator(directory_config(server, mode=mode))
        try:
            with pytest.raises(BackendUnavailable):
                without.authenticate("alice", ALICE)
        finally:
            without.close()
        with_cert = LdapAuthenticator(
            directory_config(
                server,
                mode=mode,
                client_cert_file=server.pki.client_cert_file,
                client_key_file=server.pki.client_key_file,
            )
        )
        try:
            assert alice_logs_in(with_cert)
        finally:
            with_cert.close()


def test_unreadable_tls_files_are_config_errors(slapd: Slapd, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as caught:
        LdapAuthenticator(directory_config(slapd, mode="ldaps", ca_file=garbage))
    assert caught.value.key == "ldap.ca_file"
    with pytest.raises(ConfigError) as caught:
        LdapAuthenticator(directory_config(slapd, mode="ldaps", ca_file=tmp_path / "missing.pem"))
    assert caught.value.key == "ldap.ca_file"
    with pytest.raises(ConfigError) as caught:
        LdapAuthenticator(
            directory_config(slapd, mode="ldaps", client_cert_file=garbage, client_key_file=garbage)
        )
    assert caught.value.key == "ldap.client_cert_file"
