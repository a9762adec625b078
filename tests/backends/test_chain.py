"""ChainAuthenticator: local users first, then the directory; shadowing; "cannot tell" is
never "no"; disabled local groups switch off directory groups of the same name; every
refused login costs one password verify and a directory login none (counted, not timed).

Also runs the authenticator conformance suite against LocalAuthenticator over the memory
backend and against the chain (local + a real slapd).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from libdockit.admin import AdminService
from libdockit.audit import Actor
from libdockit.backends.base import Authenticator
from libdockit.backends.chain import ChainAuthenticator
from libdockit.backends.ldap.backend import LdapAuthenticator
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.credcache import VerifiedCredentials
from libdockit.errors import BackendUnavailable
from libdockit.model import Identity, LoginRecord, User
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.testing.auth_conformance import (
    Account,
    Accounts,
    AuthenticatorConformance,
)
from tests.support.hashing import CountingHasher
from tests.support.slapd import Slapd, directory_config

TEST_ACTOR = Actor.system("tests")

LOCAL_ACCOUNTS = Accounts(
    first=Account("alice", "alice-local-pw", groups=("developers",)),
    second=Account("bob", "bob-local-pw", groups=("ops",)),
)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher()


def memory_store(hasher: PasswordHasher, accounts: Accounts) -> MemoryBackend:
    store = MemoryBackend()
    admin = AdminService(store, store, hasher)
    for account in (accounts.first, accounts.second):
        admin.create_user(account.username, account.secret, actor=TEST_ACTOR)
        for group in account.groups:
            if group not in {g.name for g in store.list_groups(limit=1000).items}:
                admin.create_group(group, actor=TEST_ACTOR)
            admin.add_member(group, account.username, actor=TEST_ACTOR)
    return store


@pytest.fixture(scope="module")
def shared_local_authenticator(hasher: PasswordHasher) -> LocalAuthenticator:
    """Built once for the module: creating the accounts costs an argon2 hash each."""
    return LocalAuthenticator(memory_store(hasher, LOCAL_ACCOUNTS), hasher)


class TestLocalAuthenticatorConformance(AuthenticatorConformance):
    @pytest.fixture
    def authenticator(self, shared_local_authenticator: LocalAuthenticator) -> LocalAuthenticator:
        return shared_local_authenticator

    @pytest.fixture
    def accounts(self) -> Accounts:
        return LOCAL_ACCOUNTS


# -- the chain over a real directory ----------------------------------------------------------


@pytest.fixture(scope="module")
def slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


@pytest.fixture
def directory(slapd: Slapd) -> Iterator[LdapAuthenticator]:
    authenticator = LdapAuthenticator(directory_config(slapd, group_cache_seconds=0))
    yield authenticator
    authenticator.close()


@pytest.fixture
def store(hasher: PasswordHasher) -> MemoryBackend:
    """Local users: a robot, and a local 'alice' (the directory has an alice too)."""
    store = MemoryBackend()
    admin = AdminService(store, store, hasher)
    admin.create_user("robot", Secret("robot-pw"), actor=TEST_ACTOR)
    admin.create_group("robots", actor=TEST_ACTOR)
    admin.add_member("robots", "robot", actor=TEST_ACTOR)
    admin.create_user("alice", Secret("alice-local-pw"), actor=TEST_ACTOR)
    return store


def chain(
    store: MemoryBackend,
    hasher: PasswordHasher,
    directory: Authenticator,
    *,
    shadow: bool = False,
) -> ChainAuthenticator:
    return ChainAuthenticator(
        [LocalAuthenticator(store, hasher), directory],
        local_users=store,
        local_users_shadow=shadow,
    )


@pytest.fixture
def counting() -> CountingHasher:
    return CountingHasher()


def equalizing_chain(
    store: MemoryBackend,
    hasher: PasswordHasher,
    directory: Authenticator,
    *,
    shadow: bool = False,
) -> ChainAuthenticator:
    """As the server builds it with LDAP: the local authenticator does not equalize unknown
    names itself; the chain does, once nobody accepted."""
    local = LocalAuthenticator(store, hasher, equalize_unknown=False)
    return ChainAuthenticator(
        [local, directory],
        local_users=store,
        local_users_shadow=shadow,
        equalize=local.dummy_verify,
    )


def spent(hasher: CountingHasher, login: Callable[[], object]) -> tuple[int, int]:
    """(verifies, dummy verifies) that ``login`` cost."""
    hasher.reset()
    login()
    return hasher.verifies, hasher.dummies


@pytest.mark.ldap
class TestChainConformance(AuthenticatorConformance):
    """Local users (a robot only) then the directory: directory users behave as on LDAP."""

    @pytest.fixture
    def authenticator(
        self, hasher: PasswordHasher, directory: LdapAuthenticator
    ) -> ChainAuthenticator:
        store = MemoryBackend()
        AdminService(store, store, hasher).create_user(
            "robot", Secret("robot-pw"), actor=TEST_ACTOR
        )
        return chain(store, hasher, directory)

    @pytest.fixture
    def accounts(self) -> Accounts:
        return Accounts(
            first=Account("alice", "alice-pw", groups=("developers",)),
            second=Account("bob", "bob-pw", groups=("ops",)),
        )


@pytest.mark.ldap
class TestChainOverDirectory:
    def test_local_user_then_directory_user(
        self, store: MemoryBackend, hasher: PasswordHasher, directory: LdapAuthenticator
    ) -> None:
        auth = chain(store, hasher, directory)
        robot = auth.authenticate("robot", Secret("robot-pw"))
        assert robot == Identity("robot", ("robots",), False, "local")
        bob = auth.authenticate("bob", Secret("bob-pw"))
        assert bob == Identity("bob", ("ops",), False, "ldap")

    def test_without_shadowing_both_alices_log_in(
        self, store: MemoryBackend, hasher: PasswordHasher, directory: LdapAuthenticator
    ) -> None:
        auth = chain(store, hasher, directory, shadow=False)
        local = auth.authenticate("alice", Secret("alice-local-pw"))
        assert local is not None
        assert local.source == "local"
        assert local.groups == ()
        remote = auth.authenticate("alice", Secret("alice-pw"))
        assert remote is not None
        assert remote.source == "ldap"
        assert remote.groups == ("developers",)
        assert auth.authenticate("alice", Secret("neither")) is None

    def test_without_shadowing_a_disabled_local_user_does_not_block_the_directory(
        self, store: MemoryBackend, hasher: PasswordHasher, directory: LdapAuthenticator
    ) -> None:
        store.set_user_enabled("alice", False)
        auth = chain(store, hasher, directory, shadow=False)
        assert auth.authenticate("alice", Secret("alice-local-pw")) is None
        remote = auth.authenticate("alice", Secret("alice-pw"))
        assert remote is not None
        assert remote.source == "ldap"

    def test_shadowing_local_user_decides_alone(
        self, store: MemoryBackend, hasher: PasswordHasher, directory: LdapAuthenticator
    ) -> None:
        auth = chain(store, hasher, directory, shadow=True)
        local = auth.authenticate("ALICE", Secret("alice-local-pw"))
        assert local is not None
        assert local.source == "local"
        assert auth.authenticate("alice", Secret("alice-pw")) is None
        store.set_user_enabled("alice", False)
        assert auth.authenticate("alice", Secret("alice-local-pw")) is None
        assert auth.authenticate("alice", Secret("alice-pw")) is None
        # Names that are not local still reach the directory.
        bob = auth.authenticate("bob", Secret("bob-pw"))
        assert bob is not None
        assert bob.source == "ldap"

    def test_disabled_local_group_switches_off_the_directory_group(
        self, store: MemoryBackend, hasher: PasswordHasher, directory: LdapAuthenticator
    ) -> None:
        auth = chain(store, hasher, directory)
        store.create_group("ops", enabled=True)
        bob = auth.authenticate("bob", Secret("bob-pw"))
        assert bob is not None
        assert bob.groups == ("ops",)
        store.set_group_enabled("ops", False)
        bob = auth.authenticate("bob", Secret("bob-pw"))
        assert bob is not None
        assert bob.groups == ()
        assert auth.groups_for("bob") == ()
        # Admin rights come from the directory's admin_group alone.
        store.create_group("dockit-admins", enabled=False)
        carol = auth.authenticate("carol", Secret("carol-pw"))
        assert carol is not None
        assert carol.is_admin
        assert carol.groups == ()

    def test_groups_for_follows_the_first_account(
        self, store: MemoryBackend, hasher: PasswordHasher, directory: LdapAuthenticator
    ) -> None:
        auth = chain(store, hasher, directory)
        assert auth.groups_for("robot") == ("robots",)
        assert auth.groups_for("alice") == ()  # the local alice comes first
        assert auth.groups_for("dave") == ("developers", "frontend")
        assert auth.groups_for("nobody-here") == ()
        assert auth.groups_for("*") == ()

    def test_directory_logins_spend_no_verify_and_refusals_one(
        self, store: MemoryBackend, counting: CountingHasher, directory: LdapAuthenticator
    ) -> None:
        auth = equalizing_chain(store, counting, directory)

        def login(name: str, password: str) -> Identity | None:
            return auth.authenticate(name, Secret(password))

        # bob is only in the directory: the first login binds, the second is cached.
        assert spent(counting, lambda: login("bob", "bob-pw")) == (0, 0)
        assert spent(counting, lambda: login("bob", "bob-pw")) == (0, 0)
        assert login("bob", "bob-pw") is not None
        assert spent(counting, lambda: login("bob", "wrong")) == (0, 1)
        assert login("bob", "wrong") is None
        assert spent(counting, lambda: login("nobody-here", "x-pw")) == (0, 1)
        # A local user's wrong password was checked against its hash: no dummy on top.
        assert spent(counting, lambda: login("robot", "wrong")) == (1, 0)
        # The local alice is asked first (no shadowing), so her directory login verifies
        # the local hash once; a password neither knows costs that one verify too.
        assert spent(counting, lambda: login("alice", "alice-pw")) == (1, 0)
        assert spent(counting, lambda: login("alice", "neither")) == (1, 0)
        assert login("alice", "neither") is None

    def test_directory_down(
        self, store: MemoryBackend, hasher: PasswordHasher, slapd: Slapd
    ) -> None:
        dead = LdapAuthenticator(directory_config(slapd, urls=("ldap://127.0.0.1:1",)))
        try:
            auth = chain(store, hasher, dead)
            # A local user with the right password does not need the directory.
            assert auth.authenticate("robot", Secret("robot-pw")) is not None
            # Unknown locally and the directory down: cannot tell, never "bad credentials".
            with pytest.raises(BackendUnavailable):
                auth.authenticate("bob", Secret("bob-pw"))
            with pytest.raises(BackendUnavailable):
                auth.authenticate("robot", Secret("wrong"))
            with pytest.raises(BackendUnavailable):
                auth.groups_for("bob")
            # Shadowing: a local name is decided locally even while the directory is down.
            shadowing = chain(store, hasher, dead, shadow=True)
            assert shadowing.authenticate("robot", Secret("wrong")) is None
            with pytest.raises(BackendUnavailable):
                shadowing.authenticate("bob", Secret("bob-pw"))
            # Invalid names are bad credentials before anything is asked.
            assert auth.authenticate("*", Secret("x")) is None
        finally:
            dead.close()


# -- the rules, with stand-in authenticators --------------------------------------------------


class Down:
    """An authenticator and group source whose backend cannot answer."""

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        raise BackendUnavailable("the stand-in directory is down")

    def groups_for(self, username: str) -> tuple[str, ...]:
        raise BackendUnavailable("the stand-in directory is down")


class Fixed:
    """Accepts one name and password."""

    def __init__(self, username: str, password: str, groups: tuple[str, ...] = ()) -> None:
        self.identity = Identity(username, groups, False, "fixed")
        self.password = password
        self.calls = 0

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        self.calls += 1
        ok = username == self.identity.username and password.reveal() == self.password
        return self.identity if ok else None

    def groups_for(self, username: str) -> tuple[str, ...]:
        return self.identity.groups if username == self.identity.username else ()


class DownStore(MemoryBackend):
    def get_credentials(self, username: str) -> tuple[User, str] | None:
        raise BackendUnavailable("the stand-in store is down")

    def login_record(self, username: str) -> LoginRecord | None:
        raise BackendUnavailable("the stand-in store is down")


def test_first_yes_wins_and_later_ones_are_not_asked() -> None:
    first, second = Fixed("x", "1"), Fixed("x", "2")
    auth = ChainAuthenticator([first, second])
    assert auth.authenticate("x", Secret("1")) == first.identity
    assert second.calls == 0
    assert auth.authenticate("x", Secret("2")) == second.identity
    assert auth.authenticate("x", Secret("3")) is None


def test_unavailable_then_no_is_unavailable() -> None:
    auth = ChainAuthenticator([Down(), Fixed("x", "1")])
    with pytest.raises(BackendUnavailable, match="stand-in directory"):
        auth.authenticate("x", Secret("wrong"))


def test_unavailable_then_yes_is_yes_without_shadowing() -> None:
    fixed = Fixed("x", "1")
    auth = ChainAuthenticator([Down(), fixed])
    assert auth.authenticate("x", Secret("1")) == fixed.identity


def test_no_then_unavailable_is_unavailable() -> None:
    auth = ChainAuthenticator([Fixed("x", "1"), Down()])
    with pytest.raises(BackendUnavailable):
        auth.authenticate("y", Secret("1"))


def test_shadowing_with_the_local_store_down_is_unavailable(hasher: PasswordHasher) -> None:
    store = DownStore()
    fixed = Fixed("x", "1")
    auth = ChainAuthenticator(
        [LocalAuthenticator(store, hasher), fixed], local_users=store, local_users_shadow=True
    )
    with pytest.raises(BackendUnavailable, match="stand-in store"):
        auth.authenticate("x", Secret("1"))
    assert fixed.calls == 0


def test_group_sources_skip_the_local_authenticator(hasher: PasswordHasher) -> None:
    store = MemoryBackend()
    fixed = Fixed("x", "1", groups=("g",))
    auth = ChainAuthenticator([LocalAuthenticator(store, hasher), fixed], local_users=store)
    assert auth.groups_for("x") == ("g",)
    assert auth.groups_for("y") == ()
    with pytest.raises(BackendUnavailable):
        ChainAuthenticator([Fixed("x", "1"), Down()]).groups_for("y")


# -- response times: one verify for every refusal, none for a directory login ----------------


@pytest.mark.parametrize("shadow", [False, True])
@pytest.mark.parametrize(
    ("name", "password", "accepted", "cost"),
    [
        ("dora", "dora-pw", "fixed", (0, 0)),  # a directory login: no argon2 at all
        ("dora", "wrong", None, (0, 1)),
        ("nobody-here", "x-pw", None, (0, 1)),
        ("*", "x-pw", None, (0, 1)),  # not a valid name: refused by both at once
        ("robot", "wrong", None, (1, 0)),  # the real hash was verified: no dummy on top
        ("robot", "robot-pw", "local", (1, 0)),
        ("alice", "wrong", None, (1, 0)),
    ],
)
def test_each_refusal_costs_one_verify(
    store: MemoryBackend,
    counting: CountingHasher,
    shadow: bool,
    name: str,
    password: str,
    accepted: str | None,
    cost: tuple[int, int],
) -> None:
    auth = equalizing_chain(store, counting, Fixed("dora", "dora-pw"), shadow=shadow)
    counting.reset()
    identity = auth.authenticate(name, Secret(password))
    assert (identity.source if identity is not None else None) == accepted
    assert (counting.verifies, counting.dummies) == cost


def test_a_disabled_local_user_costs_its_own_verify(
    store: MemoryBackend, counting: CountingHasher
) -> None:
    """A disabled account is refused after a dummy verify whatever the password (never from
    the verified-credentials cache), so its refusal takes the time of any other."""
    store.set_user_enabled("alice", False)
    auth = equalizing_chain(store, counting, Fixed("dora", "dora-pw"))
    assert spent(counting, lambda: auth.authenticate("alice", Secret("alice-local-pw"))) == (0, 1)
    assert spent(counting, lambda: auth.authenticate("alice", Secret("wrong"))) == (0, 1)


def test_refusals_while_the_directory_is_down_cost_one_verify_and_still_raise(
    store: MemoryBackend, counting: CountingHasher
) -> None:
    auth = equalizing_chain(store, counting, Down())
    counting.reset()
    with pytest.raises(BackendUnavailable, match="stand-in directory"):
        auth.authenticate("nobody-here", Secret("x-pw"))
    assert (counting.verifies, counting.dummies) == (0, 1)
    counting.reset()
    with pytest.raises(BackendUnavailable, match="stand-in directory"):
        auth.authenticate("robot", Secret("wrong"))
    assert (counting.verifies, counting.dummies) == (1, 0)
    assert spent(counting, lambda: auth.authenticate("robot", Secret("robot-pw"))) == (1, 0)
    shadowing = equalizing_chain(store, counting, Down(), shadow=True)
    assert spent(counting, lambda: shadowing.authenticate("robot", Secret("wrong"))) == (1, 0)
    counting.reset()
    with pytest.raises(BackendUnavailable):
        shadowing.authenticate("nobody-here", Secret("x-pw"))
    assert (counting.verifies, counting.dummies) == (0, 1)


def test_local_store_down_costs_one_verify_or_raises_at_once(counting: CountingHasher) -> None:
    store = DownStore()
    fixed = Fixed("x", "1")
    auth = equalizing_chain(store, counting, fixed)
    counting.reset()
    with pytest.raises(BackendUnavailable, match="stand-in store"):
        auth.authenticate("x", Secret("wrong"))
    assert (counting.verifies, counting.dummies) == (0, 1)
    assert spent(counting, lambda: auth.authenticate("x", Secret("1"))) == (0, 0)
    # Shadowing: the store must answer first, so the chain raises before anything else.
    shadowing = equalizing_chain(store, counting, fixed, shadow=True)
    counting.reset()
    with pytest.raises(BackendUnavailable, match="stand-in store"):
        shadowing.authenticate("x", Secret("1"))
    assert (counting.verifies, counting.dummies) == (0, 0)


def test_without_local_users_every_refusal_equalizes() -> None:
    calls: list[None] = []
    auth = ChainAuthenticator(
        [Fixed("x", "1"), Fixed("y", "2")], equalize=lambda: calls.append(None)
    )
    assert auth.authenticate("x", Secret("1")) is not None
    assert auth.authenticate("y", Secret("2")) is not None
    assert calls == []
    assert auth.authenticate("x", Secret("2")) is None
    assert len(calls) == 1
    with pytest.raises(BackendUnavailable):
        ChainAuthenticator([Down()], equalize=lambda: calls.append(None)).authenticate(
            "x", Secret("1")
        )
    assert len(calls) == 2


def test_a_local_authenticator_that_equalizes_itself_charges_directory_logins(
    store: MemoryBackend, counting: CountingHasher
) -> None:
    """Why the server builds the local authenticator with equalize_unknown=False."""
    auth = chain(store, counting, Fixed("dora", "dora-pw"))
    assert spent(counting, lambda: auth.authenticate("dora", Secret("dora-pw"))) == (0, 1)


def test_construction_errors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ChainAuthenticator([])
    with pytest.raises(ValueError, match="local_users"):
        ChainAuthenticator([Fixed("x", "1")], local_users_shadow=True)


class Directory(Fixed):
    """A directory that can also say who one of its users is without a password."""

    source = "fixed"

    def identity_for(self, username: str) -> Identity | None:
        return self.identity if username == self.identity.username else None


def test_identity_for_local_and_directory_users() -> None:
    """Refresh tokens: each source answers for its own users, disabled local groups are
    dropped from directory identities, and only an enabled local user is a local identity."""
    store = MemoryBackend()
    store.create_user("robot", "h")
    store.create_group("ops")
    store.add_member("ops", "robot")
    store.create_group("devs", enabled=False)
    directory = Directory("dora", "dora-pw", ("devs", "readers"))
    chain = ChainAuthenticator(
        [LocalAuthenticator(store, PasswordHasher()), directory], local_users=store
    )
    assert chain.identity_for("robot") == Identity("robot", ("ops",), False, "local")
    assert chain.identity_for("dora", source="fixed") == Identity(
        "dora", ("readers",), False, "fixed"
    )
    assert chain.identity_for("dora") is None  # not a local user
    assert chain.identity_for("robot", source="fixed") is None  # not a directory user
    assert chain.identity_for("dora", source="elsewhere") is None  # no such source
    store.set_user_enabled("robot", False)
    assert chain.identity_for("robot") is None


def test_identity_for_a_shadowed_directory_user_is_none() -> None:
    """With shadowing, a local user of the name owns it: the directory user's tokens stop."""
    store = MemoryBackend()
    directory = Directory("dora", "dora-pw")
    chain = ChainAuthenticator(
        [LocalAuthenticator(store, PasswordHasher()), directory],
        local_users=store,
        local_users_shadow=True,
    )
    assert chain.identity_for("dora", source="fixed") is not None
    store.create_user("dora", "h")
    assert chain.identity_for("dora", source="fixed") is None


def test_remembered_logins_follow_the_chain_order(
    store: MemoryBackend, hasher: PasswordHasher, slapd: Slapd
) -> None:
    """What the throttle uses to skip its write: a login told without a slow check, only
    when the authenticator that would answer first remembers it."""
    local = LocalAuthenticator(store, hasher, verified=VerifiedCredentials())
    directory = LdapAuthenticator(directory_config(slapd, password_cache_seconds=60))
    try:
        both = ChainAuthenticator([local, directory], local_users=store)
        assert both.remembered_identity("robot", Secret("robot-pw")) is None
        assert both.remembered_identity("bob", Secret("bob-pw")) is None
        for name, password in (("robot", "robot-pw"), ("bob", "bob-pw"), ("alice", "alice-pw")):
            assert both.authenticate(name, Secret(password)) is not None
        robot = both.remembered_identity("ROBOT", Secret("robot-pw"))
        assert robot == Identity("robot", ("robots",), False, "local")
        bob = both.remembered_identity("bob", Secret("bob-pw"))
        assert bob is not None
        assert (bob.username, bob.source, bob.groups) == ("bob", "ldap", ("ops",))
        # alice is a local user too: her local password decides first, which needs a check.
        assert both.remembered_identity("alice", Secret("alice-pw")) is None
        assert both.remembered_identity("bob", Secret("bob-pw-wrong")) is None
        # A disabled local group of the same name still switches the directory group off.
        AdminService(store, store, hasher).create_group("ops", enabled=False, actor=TEST_ACTOR)
        assert both.remembered_identity("bob", Secret("bob-pw")) == Identity(
            "bob", (), False, "ldap"
        )
    finally:
        directory.close()
