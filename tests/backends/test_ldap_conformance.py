"""The authenticator conformance suite against a real slapd, in each TLS mode.

Plain LDAP, ``ldaps://`` and StartTLS, each verifying slapd's certificate with the test CA.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from libdockit.backends.ldap.backend import LdapAuthenticator
from libdockit.testing.auth_conformance import (
    Account,
    Accounts,
    AuthenticatorConformance,
)
from tests.support.slapd import TLS_MODES, Slapd, TlsMode, directory_config

pytestmark = pytest.mark.ldap

LDAP_ACCOUNTS = Accounts(
    first=Account("alice", "alice-pw", groups=("developers",)),
    second=Account("bob", "bob-pw", groups=("ops",)),
)


@pytest.fixture(scope="module")
def slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


@pytest.fixture(scope="module", params=TLS_MODES)
def tls_mode(request: pytest.FixtureRequest) -> TlsMode:
    mode: TlsMode = request.param
    return mode


@pytest.fixture(scope="module")
def shared_authenticator(slapd: Slapd, tls_mode: TlsMode) -> Iterator[LdapAuthenticator]:
    authenticator = LdapAuthenticator(directory_config(slapd, mode=tls_mode))
    yield authenticator
    authenticator.close()


class TestLdapAuthenticatorConformance(AuthenticatorConformance):
    @pytest.fixture
    def authenticator(self, shared_authenticator: LdapAuthenticator) -> LdapAuthenticator:
        return shared_authenticator

    @pytest.fixture
    def accounts(self) -> Accounts:
        return LDAP_ACCOUNTS
