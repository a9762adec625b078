"""LdapAuthenticator against a real slapd: group kinds, nesting, admin group, user search
rules, the group and password caches and what never reaches the directory.

The directory is described in :mod:`tests.support.slapd`. Tests that change it use their own
slapd (``own_slapd``); the others share one per module.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from libdockit.backends.ldap.backend import LdapAuthenticator
from libdockit.backends.ldap.config import GroupSearch, UserMatcher, UserSearch
from libdockit.errors import BackendUnavailable
from libdockit.secret import Secret
from tests.support.procs import wait_until
from tests.support.slapd import (
    GROUPS_DN,
    PEOPLE_DN,
    SERVICE_PASSWORD,
    SUFFIX,
    WEIRD_PASSWORD,
    Slapd,
    directory_config,
    group_dn,
    require_memberof,
    user_dn,
)

pytestmark = pytest.mark.ldap


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


@pytest.fixture
def own_slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


@pytest.fixture
def ldap(slapd: Slapd) -> Iterator[LdapAuthenticator]:
    authenticator = LdapAuthenticator(directory_config(slapd))
    yield authenticator
    authenticator.close()


def login(authenticator: LdapAuthenticator, username: str, password: str | None = None) -> object:
    """The identity's (username, groups, is_admin), or None."""
    identity = authenticator.authenticate(username, Secret(password or f"{username}-pw"))
    if identity is None:
        return None
    assert identity.source == "ldap"
    return identity.username, identity.groups, identity.is_admin


# -- kinds of groups ------------------------------------------------------------------------


def test_group_of_names_member(ldap: LdapAuthenticator) -> None:
    assert login(ldap, "alice") == ("alice", ("developers",), False)


def test_posix_group_member_uid(ldap: LdapAuthenticator) -> None:
    assert login(ldap, "bob") == ("bob", ("ops",), False)


def test_member_of_alone(slapd: Slapd) -> None:
    require_memberof(slapd)
    search = GroupSearch(base_dn=None, user_matchers=(), member_of_attribute="memberOf")
    authenticator = LdapAuthenticator(directory_config(slapd, group_search=search))
    try:
        # memberOf lists developers and "All Staff" (not a valid Dockit name: left out).
        assert login(authenticator, "alice") == ("alice", ("developers",), False)
        assert login(authenticator, "carol") == ("carol", ("dockit-admins",), True)
        # posixGroup has no memberOf; dave's memberOf is only the direct group.
        assert login(authenticator, "bob") == ("bob", (), False)
        assert login(authenticator, "dave") == ("dave", ("frontend",), False)
    finally:
        authenticator.close()


def test_member_of_with_a_name_attribute_that_is_not_the_rdn(slapd: Slapd) -> None:
    require_memberof(slapd)
    # The group's name comes from its entry when the RDN is not the name attribute.
    search = GroupSearch(
        base_dn=GROUPS_DN, user_matchers=(), member_of_attribute="memberOf", name_attribute="cn"
    )
    renamed = replace(search, name_attribute="CN")
    for group_search in (search, renamed):
        authenticator = LdapAuthenticator(directory_config(slapd, group_search=group_search))
        try:
            assert login(authenticator, "alice") == ("alice", ("developers",), False)
        finally:
            authenticator.close()


def test_member_of_outside_the_group_base_is_ignored(slapd: Slapd) -> None:
    require_memberof(slapd)
    search = GroupSearch(
        base_dn=f"ou=people,{SUFFIX}", user_matchers=(), member_of_attribute="memberOf"
    )
    authenticator = LdapAuthenticator(directory_config(slapd, group_search=search))
    try:
        assert login(authenticator, "alice") == ("alice", (), False)
    finally:
        authenticator.close()


def test_matchers_and_member_of_together(ldap: LdapAuthenticator) -> None:
    assert login(ldap, "carol") == ("carol", ("dockit-admins",), True)


def test_no_group_search_gives_no_groups(slapd: Slapd) -> None:
    search = GroupSearch(base_dn=None, user_matchers=())
    authenticator = LdapAuthenticator(directory_config(slapd, group_search=search))
    try:
        assert login(authenticator, "alice") == ("alice", (), False)
    finally:
        authenticator.close()


# -- nesting ------------------------------------------------------------------------------------


def test_nested_groups(slapd: Slapd, ldap: LdapAuthenticator) -> None:
    assert login(ldap, "dave") == ("dave", ("developers", "frontend"), False)
    flat = replace(directory_config(slapd).group_search, nested=False)
    authenticator = LdapAuthenticator(directory_config(slapd, group_search=flat))
    try:
        assert login(authenticator, "dave") == ("dave", ("frontend",), False)
    finally:
        authenticator.close()


def test_a_cycle_of_groups_ends(ldap: LdapAuthenticator) -> None:
    assert login(ldap, "erin") == ("erin", ("cycle-a", "cycle-b"), False)


def test_max_depth(own_slapd: Slapd) -> None:
    # gina -> level-0 -> level-1 -> ... -> level-5
    own_slapd.modify(
        "\n".join(
            f"dn: {group_dn(f'level-{n}')}\nobjectClass: groupOfNames\ncn: level-{n}\n"
            f"member: {user_dn('gina') if n == 0 else group_dn(f'level-{n - 1}')}\n"
            for n in range(6)
        ),
        add=True,
    )
    for depth, expected in ((1, 2), (3, 4), (5, 6), (32, 6)):
        search = replace(directory_config(own_slapd).group_search, max_depth=depth)
        authenticator = LdapAuthenticator(directory_config(own_slapd, group_search=search))
        try:
            assert login(authenticator, "gina") == (
                "gina",
                tuple(f"level-{n}" for n in range(expected)),
                False,
            )
        finally:
            authenticator.close()


def test_distinguished_names_with_filter_metacharacters(ldap: LdapAuthenticator) -> None:
    """The user DN and a group DN hold ``(``, ``)`` and ``*``: escaped in every filter, the
    user's groups are found (through a group whose own name is not usable)."""
    assert login(ldap, "weird", WEIRD_PASSWORD) == ("weird", ("weird-parent",), False)


# -- admin group --------------------------------------------------------------------------------


def test_admin_group(slapd: Slapd, ldap: LdapAuthenticator) -> None:
    assert login(ldap, "carol") == ("carol", ("dockit-admins",), True)
    assert login(ldap, "alice") == ("alice", ("developers",), False)
    for admin_group in ("developers", None):
        authenticator = LdapAuthenticator(directory_config(slapd, admin_group=admin_group))
        try:
            alice = login(authenticator, "alice")
            assert alice == ("alice", ("developers",), admin_group == "developers")
            assert login(authenticator, "carol") == ("carol", ("dockit-admins",), False)
        finally:
            authenticator.close()


# -- finding the user ---------------------------------------------------------------------------


def test_mixed_case_uid(ldap: LdapAuthenticator) -> None:
    assert login(ldap, "frank") == ("frank", (), False)
    assert login(ldap, "FRANK", "frank-pw") == ("frank", (), False)


def test_two_entries_with_the_name_log_nobody_in(slapd: Slapd) -> None:
    whole_tree = UserSearch(base_dn=SUFFIX, filter="(objectClass=inetOrgPerson)")
    authenticator = LdapAuthenticator(directory_config(slapd, user_search=whole_tree))
    try:
        assert login(authenticator, "twin") is None
        assert authenticator.find_user("twin") is None
        assert login(authenticator, "alice") == ("alice", ("developers",), False)
    finally:
        authenticator.close()
    people_only = UserSearch(base_dn=PEOPLE_DN, filter="(objectClass=inetOrgPerson)")
    authenticator = LdapAuthenticator(directory_config(slapd, user_search=people_only))
    try:
        assert login(authenticator, "twin") == ("twin", (), False)
    finally:
        authenticator.close()


def test_one_level_scope(slapd: Slapd) -> None:
    one = UserSearch(base_dn=SUFFIX, scope="one", filter="(objectClass=inetOrgPerson)")
    authenticator = LdapAuthenticator(directory_config(slapd, user_search=one))
    try:
        assert login(authenticator, "alice") is None  # alice is two levels down
    finally:
        authenticator.close()


def test_user_filter_restricts(slapd: Slapd) -> None:
    only_alice = UserSearch(base_dn=PEOPLE_DN, filter="(&(objectClass=inetOrgPerson)(sn=Alice))")
    authenticator = LdapAuthenticator(directory_config(slapd, user_search=only_alice))
    try:
        assert login(authenticator, "alice") == ("alice", ("developers",), False)
        assert login(authenticator, "bob") is None
    finally:
        authenticator.close()


def test_several_username_attributes(slapd: Slapd) -> None:
    search = UserSearch(base_dn=PEOPLE_DN, username_attributes=("uid", "mail"))
    authenticator = LdapAuthenticator(directory_config(slapd, user_search=search))
    try:
        assert login(authenticator, "alice") == ("alice", ("developers",), False)
        by_mail = login(authenticator, "Alice@Dockit.Test", "alice-pw")
        assert by_mail == ("alice@dockit.test", ("developers",), False)
    finally:
        authenticator.close()


def test_find_user(ldap: LdapAuthenticator) -> None:
    alice = ldap.find_user("Alice")
    assert alice is not None
    assert alice.dn == user_dn("alice")
    assert alice.username == "alice"
    assert alice.display_name == "Alice Example"
    assert alice.email == "alice@dockit.test"
    assert ldap.find_user("nobody-here") is None
    assert ldap.find_user("*") is None


def test_anonymous_search(slapd: Slapd) -> None:
    authenticator = LdapAuthenticator(directory_config(slapd, bind_dn=None, bind_password=None))
    try:
        assert login(authenticator, "alice") == ("alice", ("developers",), False)
        assert login(authenticator, "alice", "wrong") is None
    finally:
        authenticator.close()


def test_groups_for(ldap: LdapAuthenticator) -> None:
    assert ldap.groups_for("dave") == ("developers", "frontend")
    assert ldap.groups_for("DAVE") == ("developers", "frontend")
    assert ldap.groups_for("nobody-here") == ()
    assert ldap.groups_for("*") == ()
    assert ldap.groups_for("") == ()


# -- broken settings are "cannot tell", never "no" ----------------------------------------------


def test_refused_service_bind_is_unavailable_and_names_no_password(slapd: Slapd) -> None:
    authenticator = LdapAuthenticator(
        directory_config(slapd, bind_password=Secret("not-the-reader-pw"))
    )
    try:
        with pytest.raises(BackendUnavailable) as caught:
            authenticator.authenticate("alice", Secret("alice-pw"))
        message = caught.value.message
        assert "service bind" in message
        assert "ldap.bind_password" in message
        assert "not-the-reader-pw" not in message
        assert "alice-pw" not in message
        assert SERVICE_PASSWORD not in message
    finally:
        authenticator.close()


def test_missing_base_dn_is_unavailable(slapd: Slapd) -> None:
    missing = UserSearch(base_dn=f"ou=nowhere,{SUFFIX}")
    authenticator = LdapAuthenticator(directory_config(slapd, user_search=missing))
    try:
        with pytest.raises(BackendUnavailable, match="ou=nowhere"):
            authenticator.authenticate("alice", Secret("alice-pw"))
        with pytest.raises(BackendUnavailable):
            authenticator.ping()
    finally:
        authenticator.close()


def test_ping(ldap: LdapAuthenticator) -> None:
    ldap.ping()


# -- what never reaches the directory -----------------------------------------------------------


def test_empty_password_and_invalid_names_ask_nothing(own_slapd: Slapd) -> None:
    authenticator = LdapAuthenticator(directory_config(own_slapd))
    try:
        assert login(authenticator, "alice") is not None
        wait_until(lambda: 'BIND dn="uid=alice' in own_slapd.log(), timeout=5)
        seen = len(own_slapd.log())
        assert authenticator.authenticate("alice", Secret("")) is None
        for name in ("*", "a*", ")(uid=*", "alice\x00", "x" * 10_000, ""):
            assert authenticator.authenticate(name, Secret("alice-pw")) is None
        assert login(authenticator, "bob") is not None  # the log is still written to
        wait_until(lambda: 'BIND dn="uid=bob' in own_slapd.log()[seen:], timeout=5)
        since = own_slapd.log()[seen:]
        assert "alice" not in since
        assert "\\2a" not in since
        assert "xxxxxxxx" not in since
        # One bind, bob's: the service connection for the searches is reused.
        assert re.findall(r'BIND dn="([^"]*)" method=', since) == [user_dn("bob")]
    finally:
        authenticator.close()


# -- the group cache ----------------------------------------------------------------------------


def test_group_cache_expires(own_slapd: Slapd) -> None:
    clock = FakeClock()
    authenticator = LdapAuthenticator(
        directory_config(own_slapd, group_cache_seconds=30), clock=clock
    )
    try:
        assert login(authenticator, "alice") == ("alice", ("developers",), False)
        assert login(authenticator, "bob") == ("bob", ("ops",), False)
        own_slapd.remove_member("developers", user_dn("alice"))
        clock.now += 29
        # Within the cache time the old groups stand, for logins and for groups_for.
        assert login(authenticator, "alice") == ("alice", ("developers",), False)
        assert authenticator.groups_for("alice") == ("developers",)
        # A wrong password is never taken from a cache.
        assert login(authenticator, "alice", "wrong") is None
        clock.now += 1
        assert login(authenticator, "alice") == ("alice", (), False)
        own_slapd.add_member("developers", user_dn("alice"))
        assert authenticator.groups_for("alice") == ()
        authenticator.forget_groups()
        assert authenticator.groups_for("alice") == ("developers",)
    finally:
        authenticator.close()


def test_group_cache_off(own_slapd: Slapd) -> None:
    authenticator = LdapAuthenticator(directory_config(own_slapd, group_cache_seconds=0))
    try:
        assert login(authenticator, "bob") == ("bob", ("ops",), False)
        own_slapd.modify(
            f"dn: {group_dn('ops')}\nchangetype: modify\ndelete: memberUid\nmemberUid: bob\n"
        )
        assert login(authenticator, "bob") == ("bob", (), False)
    finally:
        authenticator.close()


def test_group_cache_is_per_user() -> None:
    from libdockit.backends.ldap.groups import GroupCache

    clock = FakeClock()
    cache = GroupCache(10, clock=clock, max_entries=2)
    cache.put("a", ("x",))
    clock.now += 5
    cache.put("b", ("y",))
    assert cache.get("a") == ("x",)
    assert cache.get("b") == ("y",)
    clock.now += 5
    assert cache.get("a") is None
    assert cache.get("b") == ("y",)
    cache.put("c", ("z",))
    cache.put("d", ("w",))  # the oldest goes: b
    assert (cache.get("b"), cache.get("c"), cache.get("d")) == (None, ("z",), ("w",))
    assert GroupCache(0, clock=clock).get("a") is None


# -- the password cache -------------------------------------------------------------------------

ALICE = ("alice", ("developers",), False)


def traffic(
    slapd: Slapd, authenticator: LdapAuthenticator, *logins: tuple[str, str]
) -> tuple[list[object], str]:
    """Each login's :func:`login` result, and slapd's log of what they asked of it.

    A refused bind as erin ends the stretch: slapd logs operations in the order it gets
    them, so once that bind is in the log everything the logins did is too.
    """
    start = len(slapd.log())
    results = [login(authenticator, name, password) for name, password in logins]
    assert login(authenticator, "erin", "marker-not-the-password") is None
    marker = f'BIND dn="{user_dn("erin")}"'
    wait_until(lambda: marker in slapd.log()[start:], timeout=5)
    seen = slapd.log()[start:]
    return results, seen[: seen.index(marker)]


def binds(log: str, uid: str) -> int:
    """Binds as ``uid`` in ``log`` (a bind's first line; an accepted one logs a second)."""
    return log.count(f'BIND dn="{user_dn(uid)}" method=')


def cached_authenticator(slapd: Slapd, clock: FakeClock, **changes: Any) -> LdapAuthenticator:
    return LdapAuthenticator(directory_config(slapd, **changes), clock=clock)


def test_a_cached_password_asks_the_directory_nothing(own_slapd: Slapd) -> None:
    authenticator = LdapAuthenticator(directory_config(own_slapd))  # both caches: 60 s
    try:
        results, seen = traffic(own_slapd, authenticator, ("alice", "alice-pw"))
        assert results == [ALICE]
        assert binds(seen, "alice") == 1
        # The name is normalised before the cache is asked: ALICE is alice.
        results, seen = traffic(
            own_slapd, authenticator, ("alice", "alice-pw"), ("ALICE", "alice-pw")
        )
        assert results == [ALICE, ALICE]
        assert "alice" not in seen  # no search, no bind, no group search
        # The same password under another name is another login.
        results, seen = traffic(own_slapd, authenticator, ("bob", "alice-pw"))
        assert results == [None]
        assert binds(seen, "bob") == 1
    finally:
        authenticator.close()


def test_a_refused_password_is_never_cached_nor_evicts_the_right_one(own_slapd: Slapd) -> None:
    authenticator = LdapAuthenticator(directory_config(own_slapd))
    try:
        results, seen = traffic(
            own_slapd,
            authenticator,
            ("alice", "alice-pw"),
            ("alice", "wrong"),
            ("alice", "wrong"),
            ("alice", "alice-pw"),
        )
        assert results == [ALICE, None, None, ALICE]
        # The right password once, each wrong one; the right one again from the cache.
        assert binds(seen, "alice") == 3
    finally:
        authenticator.close()


def test_password_cache_off_binds_every_time(own_slapd: Slapd) -> None:
    authenticator = LdapAuthenticator(directory_config(own_slapd, password_cache_seconds=0))
    try:
        logins = [("alice", "alice-pw")] * 3
        results, seen = traffic(own_slapd, authenticator, *logins)
        assert results == [ALICE] * 3
        assert binds(seen, "alice") == 3
    finally:
        authenticator.close()


def test_password_cache_expires(own_slapd: Slapd) -> None:
    clock = FakeClock()
    authenticator = cached_authenticator(
        own_slapd, clock, password_cache_seconds=60, group_cache_seconds=3600
    )
    try:
        assert login(authenticator, "alice") == ALICE
        clock.now += 59
        results, seen = traffic(own_slapd, authenticator, ("alice", "alice-pw"))
        assert (results, binds(seen, "alice")) == ([ALICE], 0)
        clock.now += 1
        results, seen = traffic(own_slapd, authenticator, ("alice", "alice-pw"))
        assert (results, binds(seen, "alice")) == ([ALICE], 1)
    finally:
        authenticator.close()


def test_a_changed_directory_password_works_until_the_cache_expires(own_slapd: Slapd) -> None:
    """The documented price of the cache: the old password keeps working for its time."""
    clock = FakeClock()
    authenticator = cached_authenticator(own_slapd, clock, password_cache_seconds=60)
    try:
        assert login(authenticator, "alice") == ALICE
        own_slapd.modify(
            f"dn: {user_dn('alice')}\nchangetype: modify\nreplace: userPassword\n"
            "userPassword: alice-new-pw\n"
        )
        clock.now += 59
        assert login(authenticator, "alice") == ALICE
        assert login(authenticator, "alice", "alice-new-pw") == ALICE
        clock.now += 1
        assert login(authenticator, "alice") is None
        assert login(authenticator, "alice", "alice-new-pw") == ALICE
    finally:
        authenticator.close()


def test_groups_and_admin_rights_follow_the_group_cache_alone(own_slapd: Slapd) -> None:
    clock = FakeClock()
    authenticator = cached_authenticator(
        own_slapd, clock, password_cache_seconds=3600, group_cache_seconds=30
    )
    try:
        assert login(authenticator, "alice") == ALICE
        assert login(authenticator, "carol") == ("carol", ("dockit-admins",), True)
        own_slapd.remove_member("developers", user_dn("alice"))
        own_slapd.add_member("dockit-admins", user_dn("gina"))  # a group needs a member
        own_slapd.remove_member("dockit-admins", user_dn("carol"))
        clock.now += 29
        assert login(authenticator, "alice") == ALICE
        clock.now += 1
        results, seen = traffic(
            own_slapd, authenticator, ("alice", "alice-pw"), ("carol", "carol-pw")
        )
        assert results == [("alice", (), False), ("carol", (), False)]
        # The groups were read again (a search), the passwords were not checked again.
        assert "alice" in seen
        assert (binds(seen, "alice"), binds(seen, "carol")) == (0, 0)
    finally:
        authenticator.close()


def test_a_deleted_user_is_refused_once_the_groups_must_be_read(own_slapd: Slapd) -> None:
    clock = FakeClock()
    authenticator = cached_authenticator(
        own_slapd, clock, password_cache_seconds=3600, group_cache_seconds=30
    )
    try:
        assert login(authenticator, "gina") == ("gina", (), False)
        own_slapd.modify(f"dn: {user_dn('gina')}\nchangetype: delete\n")
        clock.now += 29
        assert login(authenticator, "gina") == ("gina", (), False)
        clock.now += 1
        assert login(authenticator, "gina") is None
    finally:
        authenticator.close()


def test_a_cached_login_survives_an_outage_only_while_its_groups_are_cached(
    own_slapd: Slapd,
) -> None:
    clock = FakeClock()
    authenticator = cached_authenticator(
        own_slapd, clock, password_cache_seconds=60, group_cache_seconds=30
    )
    try:
        assert login(authenticator, "alice") == ALICE
        own_slapd.stop()
        clock.now += 10
        assert login(authenticator, "alice") == ALICE  # password and groups both cached
        for name, password in (("alice", "wrong"), ("bob", "bob-pw")):
            with pytest.raises(BackendUnavailable):
                authenticator.authenticate(name, Secret(password))
        clock.now += 20  # the groups expire (the password would hold 30 s more)
        with pytest.raises(BackendUnavailable):
            authenticator.authenticate("alice", Secret("alice-pw"))
        own_slapd.start()
        assert login(authenticator, "alice") == ALICE
    finally:
        authenticator.close()


# -- the driver -----------------------------------------------------------------------------------


def test_library_import_does_not_load_ldap3() -> None:
    code = (
        "import sys, libdockit, libdockit.backends.ldap.backend, libdockit.backends.chain, "
        "libdockit.backends.ldap.config; "
        "print(','.join(m for m in sys.modules if m.split('.')[0] in ('ldap3', 'pyasn1')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert loaded.stdout.strip() == ""


def test_missing_driver_names_the_extra(slapd: Slapd) -> None:
    code = (
        "import sys; sys.modules['ldap3'] = None\n"
        "from libdockit.backends.ldap.backend import LdapAuthenticator, LdapConfig, UserSearch\n"
        f"config = LdapConfig(urls=({slapd.url!r},), user_search=UserSearch(base_dn='dc=x'))\n"
        "try:\n"
        "    LdapAuthenticator(config)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'dockit[ldap]'" in result.stdout


def test_matcher_on_a_user_attribute(slapd: Slapd) -> None:
    search = GroupSearch(base_dn=GROUPS_DN, user_matchers=(UserMatcher("uid", "memberUid"),))
    authenticator = LdapAuthenticator(directory_config(slapd, group_search=search))
    try:
        assert login(authenticator, "bob") == ("bob", ("ops",), False)
        assert login(authenticator, "alice") == ("alice", (), False)
    finally:
        authenticator.close()


def test_passwords_the_directory_never_sees(own_slapd: Slapd) -> None:
    """A password with no UTF-8 form (a lone surrogate) or longer than local passwords may be
    is bad credentials without a bind."""
    authenticator = LdapAuthenticator(directory_config(own_slapd))
    try:
        for password in ("\ud800", "alice-pw\udcff", "x" * 1025):
            assert authenticator.authenticate("alice", Secret(password)) is None
        assert authenticator.authenticate("\ud800", Secret("alice-pw")) is None
        assert 'BIND dn="uid=alice' not in own_slapd.log()
    finally:
        authenticator.close()


def test_identity_for_answers_without_a_password_and_follows_the_directory(
    own_slapd: Slapd,
) -> None:
    """Refresh tokens of directory users: who they are without a password; an unknown or
    deleted user is None once the groups must be read again (as for a cached login)."""
    clock = FakeClock()
    authenticator = cached_authenticator(own_slapd, clock, group_cache_seconds=30)
    try:
        alice = authenticator.identity_for("ALICE")
        assert alice is not None
        assert (alice.username, alice.groups, alice.is_admin, alice.source) == (*ALICE, "ldap")
        assert authenticator.identity_for("nobody") is None
        assert authenticator.identity_for("a*") is None
        assert authenticator.identity_for("gina") is not None
        own_slapd.modify(f"dn: {user_dn('gina')}\nchangetype: delete\n")
        clock.now += 30
        assert authenticator.identity_for("gina") is None
    finally:
        authenticator.close()
