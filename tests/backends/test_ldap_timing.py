"""How long a cold and a warm LDAP login take against a local slapd, printed, not asserted
(tests never assert wall-clock times; see bench/ for ratios).

* cold: a new authenticator: connect (+ TLS) and service bind, user search, a second
  connection for the user's bind, group searches.
* warm: the default caches: the password and the groups are both cached, so the directory
  is not asked at all.
* warm, no password cache: the service connection comes from the pool and the groups from
  the cache; the user search and the user's bind (a new connection) happen every time.
* warm, no caches: as the previous one, with the group searches.
* chain: warm, behind the local-users-first chain as the server builds it: no argon2 for a
  directory login (the chain spends a dummy verify only on refusals).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest

from libdockit.backends.base import Authenticator
from libdockit.backends.chain import ChainAuthenticator
from libdockit.backends.ldap.backend import LdapAuthenticator
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from tests.support.slapd import TLS_MODES, Slapd, directory_config

pytestmark = pytest.mark.ldap
ROUNDS = 20


@pytest.fixture(scope="module")
def slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


def _ms(authenticator: Authenticator, password: Secret) -> float:
    started = time.perf_counter()
    assert authenticator.authenticate("dave", password) is not None
    return (time.perf_counter() - started) * 1000


def test_cold_and_warm_login_times(slapd: Slapd, capsys: pytest.CaptureFixture[str]) -> None:
    password = Secret("dave-pw")  # dave: nested groups, so the uncached path searches twice
    lines = []
    for mode in TLS_MODES:
        cold = []
        for _ in range(5):
            authenticator = LdapAuthenticator(directory_config(slapd, mode=mode))
            try:
                cold.append(_ms(authenticator, password))
            finally:
                authenticator.close()
        results = {"cold": cold}
        for label, password_cache, group_cache in (
            ("warm", 60, 60),
            ("warm, no pw cache", 0, 60),
            ("warm, no caches", 0, 0),
        ):
            authenticator = LdapAuthenticator(
                directory_config(
                    slapd,
                    mode=mode,
                    password_cache_seconds=password_cache,
                    group_cache_seconds=group_cache,
                )
            )
            try:
                authenticator.authenticate("dave", password)
                results[label] = [_ms(authenticator, password) for _ in range(ROUNDS)]
            finally:
                authenticator.close()
        directory = LdapAuthenticator(directory_config(slapd, mode=mode))
        try:
            store = MemoryBackend()
            hasher = PasswordHasher()
            local = LocalAuthenticator(store, hasher, equalize_unknown=False)
            chain = ChainAuthenticator(
                [local, directory], local_users=store, equalize=local.dummy_verify
            )
            chain.authenticate("dave", password)
            results["warm, via chain"] = [_ms(chain, password) for _ in range(5)]
        finally:
            directory.close()
        for label, values in results.items():
            lines.append(
                f"  {mode:8} {label:17} median {statistics.median(values):6.2f} ms"
                f"  (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"
            )
    with capsys.disabled():
        print("\nLDAP login times against a local slapd:\n" + "\n".join(lines))
