"""What every Authenticator must do with passwords, as tests: subclass and supply fixtures.

::

    class TestMyAuthenticator(AuthenticatorConformance):
        @pytest.fixture
        def authenticator(self) -> Iterator[Authenticator]:
            yield MyAuthenticator(...)

        @pytest.fixture
        def accounts(self) -> Accounts:
            return Accounts(
                first=Account("alice", "alice-pw", groups=("developers",)),
                second=Account("bob", "bob-pw", groups=("ops",)),
            )

The two accounts must exist with those passwords and *exactly* those groups, ``first`` must
have at least one group, and ``second`` other groups than ``first``. Nothing else may log in
with the strings of :data:`HOSTILE_USERNAMES` and :data:`HOSTILE_PASSWORDS`: filter
metacharacters, NUL, control and format characters, unicode look-alikes and 10 kB strings
must give "bad credentials" (None), never an exception and never someone's identity.

:class:`AuthenticatorConformance` does not start with ``Test``, so pytest collects it only
through subclasses.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from ..backends.base import Authenticator
from ..secret import Secret

__all__ = [
    "HOSTILE_PASSWORDS",
    "HOSTILE_USERNAMES",
    "Account",
    "Accounts",
    "AuthenticatorConformance",
]

LONG = 10_000

#: Login names that must never authenticate (with any password), nor raise.
HOSTILE_USERNAMES: tuple[str, ...] = (
    "*",
    "**",
    "a*",
    "*a",
    "al*",
    "alice*",
    "*alice",
    "*)(uid=*",
    ")(uid=*",
    "*)(|(uid=*",
    "*)(|(uid=*))",
    "alice)(|(uid=*",
    "alice)(objectClass=*",
    "*)(objectClass=*",
    "(uid=*)",
    "(",
    ")",
    "()",
    "&",
    "|",
    "!",
    "=",
    "~=",
    ">=",
    "\\",
    "\\\\",
    "\\2a",
    "\\2A",
    "alice\\",
    "\\00",
    "\x00",
    "alice\x00",
    "\x00alice",
    "alice\x00*",
    "uid=alice",
    "uid=alice,ou=people,dc=dockit,dc=test",
    "cn=admin,dc=dockit,dc=test",
    "alice,ou=people",
    " alice",
    "alice ",
    "al ice",
    "alice\n",
    "alice\t",
    "alice\r\n",
    "\u202ealice",
    "alice\u200b",
    "ali\u00adce",
    "alicé",
    "\u0430lice",  # Cyrillic a: a look-alike that must stay someone else
    "アリス",
    "🔑",
    "%",
    "$",
    "${user}",
    "{",
    "alice%00",
    "x" * LONG,
    "a" * LONG,
    "*" * LONG,
    "alice" + "*" * LONG,
    "",
    " ",
)

#: Passwords that must never authenticate ``first`` (or anyone), nor raise.
HOSTILE_PASSWORDS: tuple[str, ...] = (
    "*",
    "**",
    "a*",
    "alice*",
    "*)(uid=*",
    ")(uid=*",
    "*)(|(uid=*",
    "*)(|(userPassword=*",
    "(",
    ")",
    "\\",
    "\\2a",
    "\x00",
    "\x00\x00",
    " ",
    "\n",
    "пароль",
    "パスワード",
    "🔑",
    "\u202e",
    "x" * LONG,
    "*" * LONG,
    "\x00" * LONG,
)


def _short(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}...len={len(value)}"


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    groups: tuple[str, ...] = ()

    @property
    def secret(self) -> Secret:
        return Secret(self.password)


@dataclass(frozen=True)
class Accounts:
    first: Account
    second: Account


class AuthenticatorConformance:
    """Subclass as ``Test...`` and provide the ``authenticator`` and ``accounts`` fixtures."""

    @pytest.fixture
    def authenticator(self) -> Authenticator:
        pytest.fail(f"{type(self).__name__} must override the 'authenticator' fixture")

    @pytest.fixture
    def accounts(self) -> Accounts:
        pytest.fail(f"{type(self).__name__} must override the 'accounts' fixture")

    # -- the good path ------------------------------------------------------------------------
    def test_good_password_gives_the_identity_and_groups(
        self, authenticator: Authenticator, accounts: Accounts
    ) -> None:
        for account in (accounts.first, accounts.second):
            identity = authenticator.authenticate(account.username, account.secret)
            assert identity is not None, account.username
            assert identity.username == account.username
            assert sorted(identity.groups) == sorted(account.groups)
        assert accounts.first.groups, "the first account must have a group"
        assert sorted(accounts.first.groups) != sorted(accounts.second.groups)

    @pytest.mark.parametrize("spelling", [str.upper, str.title, str.swapcase])
    def test_username_is_case_folded(
        self, authenticator: Authenticator, accounts: Accounts, spelling: object
    ) -> None:
        assert callable(spelling)
        typed = spelling(accounts.first.username)
        identity = authenticator.authenticate(typed, accounts.first.secret)
        assert identity is not None, typed
        assert identity.username == accounts.first.username

    def test_username_is_nfkc_normalised(
        self, authenticator: Authenticator, accounts: Accounts
    ) -> None:
        fullwidth = "".join(
            chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in accounts.first.username
        )
        identity = authenticator.authenticate(fullwidth, accounts.first.secret)
        assert identity is not None
        assert identity.username == accounts.first.username

    def test_logins_in_threads(self, authenticator: Authenticator, accounts: Accounts) -> None:
        cases = [accounts.first, accounts.second] * 8
        wrong = [Account(a.username, a.password + "-wrong") for a in cases[:4]]

        def login(account: Account) -> tuple[str, str | None]:
            identity = authenticator.authenticate(account.username, account.secret)
            return account.username, identity.username if identity is not None else None

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(login, [*cases, *wrong]))
        assert results[: len(cases)] == [(a.username, a.username) for a in cases]
        assert results[len(cases) :] == [(a.username, None) for a in wrong]

    # -- bad credentials ----------------------------------------------------------------------
    def test_wrong_password(self, authenticator: Authenticator, accounts: Accounts) -> None:
        first = accounts.first
        for password in (first.password + "x", first.password[:-1], first.password.upper()):
            assert authenticator.authenticate(first.username, Secret(password)) is None

    def test_someone_elses_password(self, authenticator: Authenticator, accounts: Accounts) -> None:
        assert authenticator.authenticate(accounts.first.username, accounts.second.secret) is None
        assert authenticator.authenticate(accounts.second.username, accounts.first.secret) is None

    def test_unknown_user(self, authenticator: Authenticator, accounts: Accounts) -> None:
        assert authenticator.authenticate("nobody-here", Secret("whatever")) is None
        assert authenticator.authenticate("nobody-here", accounts.first.secret) is None

    def test_empty_password(self, authenticator: Authenticator, accounts: Accounts) -> None:
        assert authenticator.authenticate(accounts.first.username, Secret("")) is None
        assert authenticator.authenticate("nobody-here", Secret("")) is None
        assert authenticator.authenticate("", Secret("")) is None

    # -- hostile input --------------------------------------------------------------------------
    @pytest.mark.parametrize("username", HOSTILE_USERNAMES, ids=_short)
    def test_hostile_username(
        self, authenticator: Authenticator, accounts: Accounts, username: str
    ) -> None:
        for password in (accounts.first.secret, Secret("*"), Secret(username or "x")):
            assert authenticator.authenticate(username, password) is None

    @pytest.mark.parametrize("password", HOSTILE_PASSWORDS, ids=_short)
    def test_hostile_password(
        self, authenticator: Authenticator, accounts: Accounts, password: str
    ) -> None:
        for username in (accounts.first.username, accounts.second.username, "*", "nobody-here"):
            assert authenticator.authenticate(username, Secret(password)) is None

    def test_password_with_the_right_prefix_or_suffix(
        self, authenticator: Authenticator, accounts: Accounts
    ) -> None:
        right = accounts.first.password
        for password in (right + "\x00", "\x00" + right, right + "*", right + " ", " " + right):
            assert authenticator.authenticate(accounts.first.username, Secret(password)) is None
