"""Log in with a directory password; registry rights from directory groups.

:class:`LdapAuthenticator` implements :class:`~libdockit.backends.base.Authenticator`,
:class:`~libdockit.backends.base.GroupSource` and :class:`~libdockit.backends.base.HealthCheck`.
Grants for directory groups live in a :class:`~libdockit.backends.base.GrantStore` like any
other, as ``group:NAME``; nothing about users is copied out of the directory.

A login:

1. The login name is normalised and checked like every Dockit name
   (:func:`~libdockit.model.validate_name`); an invalid one, or an empty password (or one
   longer than local passwords may be), is "bad credentials" at once: no search, no bind.
2. If the directory accepted this name with this password less than
   ``password_cache_seconds`` ago, steps 3 and 4 are skipped (see below).
3. The user is searched with the service bind (``bind_dn``, or anonymously):
   ``(&FILTER(|(ATTR=NAME)...))`` over ``user_search.username_attributes``, the name escaped.
   Exactly one entry must match, and one of its username attribute values must normalise to
   the login name (so a server's looser matching rule cannot pick someone else).
4. The password is checked by binding as that entry's DN on a connection of its own.
5. Groups are resolved (:mod:`.ldap_groups`), or taken from the cache for
   ``group_cache_seconds``; membership in ``admin_group`` makes the identity an admin.

The password cache exists because a CI pull storm presents the same credentials hundreds of
times a minute, and a search plus a bind on a new connection is most of a directory login.
It is a :class:`~libdockit.credcache.VerifiedCredentials` of this authenticator: an HMAC with
a random per-process key of (normalised login name, password), never the password. Only a
bind the directory accepted is remembered; a refused one changes nothing, so a wrong
password neither gets in nor evicts the right one. The price: a password changed, or an
account locked or deleted, in the directory keeps working through this process for up to
``password_cache_seconds`` (0 turns the cache off). Groups, and with them admin rights, are
not part of it: they come from the group cache as always, and when that has expired the
user is searched again (no bind) to read them, so a user removed from the directory is
refused from then on, and group changes are seen exactly as without the password cache.

The identity's username is the normalised *login name*: with several username attributes
(``uid`` and ``mail``) the same person may appear under two names; grant to groups, or list
one attribute. Directory groups have no "disabled" state here; see
:class:`~libdockit.backends.chain.ChainAuthenticator` for local groups of the same name.

Each public call that needs the directory does all its directory work under one deadline
(``timeout``: every URL, the search, the bind and the groups together) and waits its turn
among ``max_concurrent`` such calls of the process (see :mod:`.ldap_deadline`). Around that
work it enters ``while_waiting()``, which the server uses to give its database connection
back to the pool meanwhile, so logins waiting on a hung directory hold nothing that local
users need.

When no server answers (or the service bind is refused, or a search fails), the call raises
:class:`~libdockit.errors.BackendUnavailable`: "cannot tell", which the server turns into 503,
never into "bad credentials". Nothing is remembered about the outage: the next call tries
again, so the first request after the directory returns succeeds. A login whose password
*and* groups are both still cached needs no directory, so it keeps working during an outage
until the first of the two expires; from then on it is BackendUnavailable like any other.

ldap3 is imported when the first authenticator is built, not with this module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from ...credcache import VerifiedCredentials
from ...errors import ValidationError
from ...model import Identity, normalize_name, validate_name
from ...passwords import MAX_PASSWORD_LENGTH
from ...secret import Secret
from .config import (
    DN,
    GroupSearch,
    LdapConfig,
    UserMatcher,
    UserSearch,
)

if TYPE_CHECKING:
    from .directory import Directory, Entry
    from .groups import GroupCache, GroupResolver

__all__ = [
    "DN",
    "GroupSearch",
    "LdapAuthenticator",
    "LdapConfig",
    "LdapUser",
    "UserMatcher",
    "UserSearch",
    "require_driver",
]

log = logging.getLogger("dockit.ldap")
# VerifiedCredentials keys on a stored hash; the directory never shows its own, and each
# authenticator has a cache (and a random key) of its own, so a fixed word stands in for it.
_BOUND = "ldap-bind"
INSTALL_HINT = "LDAP support needs the ldap3 package: pip install 'dockit[ldap]'"


def require_driver() -> tuple[ModuleType, ModuleType, ModuleType]:
    """Import the ldap3-based modules; ImportError naming the extra to install if missing."""
    try:
        from . import directory as ldap_directory
        from . import driver as ldap_driver
        from . import groups as ldap_groups
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in ("ldap3", "pyasn1"):
            raise ImportError(INSTALL_HINT, name=exc.name) from exc
        raise
    return ldap_driver, ldap_directory, ldap_groups


@dataclass(frozen=True, slots=True)
class LdapUser:
    """A directory user as found by the user search."""

    dn: str
    username: str
    display_name: str | None = None
    email: str | None = None


class LdapAuthenticator:
    """Bind authentication and group lookup against one directory (see the module docs).

    ``clock`` (monotonic seconds) drives the group and password caches; ``pool_size``
    bounds the idle service connections kept for reuse; ``while_waiting`` is entered around
    each call's directory work (see the module docs).
    """

    source = "ldap"

    def __init__(
        self,
        config: LdapConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        pool_size: int = 4,
        while_waiting: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        config.check()
        self._while_waiting = while_waiting
        driver, directory_module, groups_module = require_driver()
        self._config = config
        self._directory: Directory = directory_module.Directory(config, pool_size=pool_size)
        self._resolver: GroupResolver = groups_module.GroupResolver(
            config.group_search, self._directory
        )
        self._cache: GroupCache = groups_module.GroupCache(config.group_cache_seconds, clock=clock)
        self._bound = (
            VerifiedCredentials(ttl_seconds=config.password_cache_seconds, monotonic=clock)
            if config.password_cache_seconds > 0
            else None
        )
        self._escape: Callable[[str], str] = driver.escape
        search = config.user_search
        self._user_attributes = tuple(
            dict.fromkeys(
                a
                for a in (
                    *search.username_attributes,
                    search.display_name_attribute,
                    search.email_attribute,
                    *self._resolver.user_attributes(),
                )
                if a is not None
            )
        )

    @property
    def config(self) -> LdapConfig:
        return self._config

    @property
    def urls(self) -> tuple[str, ...]:
        return self._config.urls

    # -- Authenticator --------------------------------------------------------------------------
    def authenticate(self, username: str, password: Secret) -> Identity | None:
        secret = password.reveal()
        if not secret or len(secret) > MAX_PASSWORD_LENGTH or not _encodable(secret):
            return None
        name = _login_name(username)
        if name is None:
            return None
        if self._bound is not None and self._bound.matches(name, _BOUND, password):
            return self.identity_for(name)  # the groups may need the entry; not the password
        with self._call():
            entry = self._find(name)
            if entry is None:
                return None
            if not self._directory.check_password(entry.dn, secret):
                log.debug("directory bind refused for %r", name)
                return None
            if self._bound is not None:
                self._bound.remember(name, _BOUND, password)
            return self._identity(name, self._groups(name, entry))

    def remembered_identity(self, username: str, password: Secret) -> Identity | None:
        """The identity when the directory accepted this name and password less than
        ``password_cache_seconds`` ago (no bind); None otherwise. The groups may still need
        a search (``group_cache_seconds``), never a bind."""
        name = _login_name(username)
        if name is None or self._bound is None or not self._bound.matches(name, _BOUND, password):
            return None
        return self.identity_for(name)

    def identity_for(self, username: str) -> Identity | None:
        """Who ``username`` is in the directory now, without a password (refresh tokens):
        None once the user search no longer finds them. Like a cached login, the entry is
        only searched when the groups must be read (``group_cache_seconds``)."""
        name = _login_name(username)
        if name is None:
            return None
        groups = self._cache.get(name)
        if groups is None:
            with self._call():
                entry = self._find(name)
                if entry is None:
                    return None
                groups = self._groups(name, entry)
        return self._identity(name, groups)

    # -- GroupSource ----------------------------------------------------------------------------
    def groups_for(self, username: str) -> tuple[str, ...]:
        """The user's directory groups (cached like a login's); () for an unknown user."""
        name = _login_name(username)
        if name is None:
            return ()
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        with self._call():
            entry = self._find(name)
            return self._groups(name, entry) if entry is not None else ()

    # -- HealthCheck ----------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise BackendUnavailable unless the directory answers a search with the service bind."""
        with self._call():
            self._directory.ping()

    # -- more -----------------------------------------------------------------------------------
    def find_user(self, username: str) -> LdapUser | None:
        """The directory entry a login with ``username`` would use, or None."""
        name = _login_name(username)
        if name is None:
            return None
        with self._call():
            entry = self._find(name)
        if entry is None:
            return None
        search = self._config.user_search
        return LdapUser(
            dn=entry.dn,
            username=name,
            display_name=entry.first(search.display_name_attribute),
            email=entry.first(search.email_attribute),
        )

    def forget_groups(self) -> None:
        """Drop every cached group list (the next login reads the directory)."""
        self._cache.clear()

    def close(self) -> None:
        """Close the pooled connections (new ones are opened if the object is used again)."""
        self._directory.close()

    # -- internals ------------------------------------------------------------------------------
    @contextmanager
    def _call(self) -> Iterator[None]:
        """One call's directory work: ``while_waiting`` around one deadline and turn."""
        with self._while_waiting(), self._directory.call():
            yield

    def _find(self, name: str) -> Entry | None:
        search = self._config.user_search
        value = self._escape(name)
        clauses = "".join(f"({attribute}={value})" for attribute in search.username_attributes)
        entries = self._directory.search(
            search.base_dn,
            f"(&{search.filter}(|{clauses}))",
            scope=search.scope,
            attributes=self._user_attributes,
            size_limit=2,
        )
        if len(entries) != 1:
            if entries:
                log.warning("%d directory entries match the login name %r", len(entries), name)
            return None
        entry = entries[0]
        for attribute in search.username_attributes:
            if any(normalize_name(value) == name for value in entry.values(attribute)):
                return entry
        log.warning("directory entry %r matched %r only loosely; refused", entry.dn, name)
        return None

    def _identity(self, name: str, groups: tuple[str, ...]) -> Identity:
        admin_group = self._config.admin_group
        return Identity(
            username=name,
            groups=groups,
            is_admin=admin_group is not None and admin_group in groups,
            source=self.source,
        )

    def _groups(self, name: str, entry: Entry) -> tuple[str, ...]:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        groups = self._resolver.groups_of(entry)
        self._cache.put(name, groups)
        return groups


def _encodable(password: str) -> bool:
    """Passwords go to the directory as UTF-8; one that has none (a lone surrogate) is bad."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _login_name(username: str) -> str | None:
    try:
        return validate_name(username, field_name="username")
    except (ValidationError, TypeError, ValueError):
        return None
