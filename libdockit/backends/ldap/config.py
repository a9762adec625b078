"""What the LDAP authenticator needs to know about a directory: plain, checked records.

No driver is imported here, so a server can build and check these settings (and name a bad
key) without ldap3 installed. Names follow dex's LDAP connector where they fit
(``user_search``, ``group_search``, ``user_matchers``). :meth:`LdapConfig.check` raises
:class:`~libdockit.errors.ConfigError` naming the key as it is spelled in Dockit's TOML file,
e.g. ``ldap.user_search.base_dn``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from ...errors import ConfigError, ValidationError
from ...model import validate_name
from ...secret import Secret

Scope = Literal["sub", "one"]
SCOPES: tuple[Scope, ...] = ("sub", "one")
#: In a user matcher, this ``user_attribute`` stands for the user entry's DN.
DN = "DN"
DEFAULT_USER_FILTER = "(objectClass=person)"
DEFAULT_GROUP_FILTER = (
    "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
)
MAX_NESTING_DEPTH = 32
#: The longest ``timeout``: well within gunicorn's worker timeout (30 s), so a hanging
#: directory ends every call in a 503 long before anything would kill the worker.
MAX_TIMEOUT = 20.0
#: An hour at most: the longest a directory password change may go unnoticed.
MAX_PASSWORD_CACHE_SECONDS = 3600

# An attribute description (RFC 4512 descr, with options) or a numeric OID.
_ATTRIBUTE_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*|[0-9]+(\.[0-9]+)+")


@dataclass(frozen=True, slots=True)
class UserMatcher:
    """A group holds a user when the group's ``group_attribute`` has a value equal to one of
    the user's ``user_attribute`` values (``"DN"``: the user's DN), e.g. ``DN``→``member`` for
    groupOfNames or ``uid``→``memberUid`` for posixGroup."""

    user_attribute: str
    group_attribute: str


@dataclass(frozen=True, slots=True)
class UserSearch:
    """How to find the entry of the person logging in.

    The login name is matched against every attribute in ``username_attributes`` (any may
    match); exactly one entry must match or the login fails.
    """

    base_dn: str
    filter: str = DEFAULT_USER_FILTER
    username_attributes: tuple[str, ...] = ("uid",)
    scope: Scope = "sub"
    display_name_attribute: str | None = "displayName"
    email_attribute: str | None = "mail"


@dataclass(frozen=True, slots=True)
class GroupSearch:
    """How to find a user's groups.

    ``base_dn`` with ``user_matchers`` searches groups that name the user; ``member_of_attribute``
    (e.g. ``memberOf``) reads the groups listed on the user's own entry; both may be used.
    ``nested`` also follows groups that are members of those groups (through the matchers whose
    ``user_attribute`` is ``DN``), up to ``max_depth`` levels, each group visited once.
    """

    base_dn: str | None = None
    filter: str = DEFAULT_GROUP_FILTER
    scope: Scope = "sub"
    user_matchers: tuple[UserMatcher, ...] = (UserMatcher(DN, "member"),)
    name_attribute: str = "cn"
    member_of_attribute: str | None = None
    nested: bool = False
    max_depth: int = 5

    @property
    def dn_attributes(self) -> tuple[str, ...]:
        """Group attributes that hold member DNs (used to follow nested groups)."""
        return tuple(
            dict.fromkeys(m.group_attribute for m in self.user_matchers if m.user_attribute == DN)
        )


@dataclass(frozen=True, slots=True)
class LdapConfig:
    """Connection and search settings for one directory (several URLs are tried in order)."""

    urls: tuple[str, ...]
    user_search: UserSearch
    group_search: GroupSearch = field(default_factory=GroupSearch)
    start_tls: bool = False
    ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    connect_timeout: float = 5.0
    receive_timeout: int = 10
    #: The most one call (a login, a refresh, a readiness check) waits for the directory in
    #: all: the pooled connection, every URL, the search, the bind and the groups.
    timeout: float = 10.0
    #: Calls of one process that talk to the directory at once; more wait their turn.
    max_concurrent: int = 8
    bind_dn: str | None = None
    bind_password: Secret | None = None
    admin_group: str | None = None
    group_cache_seconds: float = 60.0
    #: How long a password the directory accepted is taken without asking it again (0: off).
    #: A password changed or an account locked in the directory keeps working this long.
    password_cache_seconds: float = 60.0

    def check(self) -> LdapConfig:
        """Raise ConfigError naming the first bad key; return self when all is well."""
        _check_urls(self.urls, start_tls=self.start_tls)
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ConfigError(
                "ldap.client_cert_file",
                "ldap.client_cert_file and ldap.client_key_file go together",
            )
        for key, path in (
            ("ldap.ca_file", self.ca_file),
            ("ldap.client_cert_file", self.client_cert_file),
            ("ldap.client_key_file", self.client_key_file),
        ):
            if path is not None and not path.is_file():
                raise ConfigError(key, f"{path} is not a readable file")
        if not 0 < self.connect_timeout <= 300:
            raise ConfigError("ldap.connect_timeout", "must be more than 0 and at most 300 seconds")
        if not 1 <= self.receive_timeout <= 300:
            raise ConfigError("ldap.receive_timeout", "must be a whole number from 1 to 300")
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ConfigError("ldap.timeout", f"must be more than 0 and at most {MAX_TIMEOUT} s")
        if not 1 <= self.max_concurrent <= 1000:
            raise ConfigError("ldap.max_concurrent", "must be a whole number from 1 to 1000")
        if self.bind_password is not None and not self.bind_dn:
            raise ConfigError("ldap.bind_password", "needs ldap.bind_dn (or neither: anonymous)")
        if self.bind_dn is not None and not self.bind_dn.strip():
            raise ConfigError("ldap.bind_dn", "must be a DN, or unset for anonymous search")
        if self.bind_dn and not self.bind_password:
            raise ConfigError("ldap.bind_password", "is required with ldap.bind_dn")
        if self.admin_group is not None:
            _check_name("ldap.admin_group", self.admin_group)
        if not 0 <= self.group_cache_seconds <= 86400:
            raise ConfigError("ldap.group_cache_seconds", "must be from 0 (no cache) to 86400")
        if not 0 <= self.password_cache_seconds <= MAX_PASSWORD_CACHE_SECONDS:
            raise ConfigError(
                "ldap.password_cache_seconds",
                f"must be from 0 (no cache) to {MAX_PASSWORD_CACHE_SECONDS}",
            )
        _check_user_search(self.user_search)
        _check_group_search(self.group_search)
        return self


def _check_urls(urls: tuple[str, ...], *, start_tls: bool) -> None:
    if not urls:
        raise ConfigError("ldap.urls", "must list at least one ldap:// or ldaps:// URL")
    for url in urls:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ConfigError("ldap.urls", f"{url!r} is not a valid URL") from None
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ConfigError("ldap.urls", f"{url!r} must look like ldap://HOST[:PORT]")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ConfigError("ldap.urls", f"{url!r}: give only scheme, host and port")
        if port == 0:
            raise ConfigError("ldap.urls", f"{url!r}: the port must be from 1 to 65535")
        if start_tls and parts.scheme == "ldaps":
            raise ConfigError(
                "ldap.start_tls", f"applies to ldap:// URLs; {url!r} already uses TLS"
            )


def _check_name(key: str, value: str) -> None:
    try:
        normalized = validate_name(value)
    except ValidationError as exc:
        raise ConfigError(key, exc.message.removeprefix("name: ")) from None
    if normalized != value:
        raise ConfigError(key, f"must be written in its normal form {normalized!r}")


def _check_filter(key: str, value: str) -> None:
    depth = 0
    for char in value:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if not (value.startswith("(") and value.endswith(")")) or depth != 0:
        raise ConfigError(key, f"{value!r} must be one LDAP filter in parentheses")


def _check_attribute(key: str, value: str | None, *, allow_dn: bool = False) -> None:
    if value is None or (allow_dn and value == DN):
        return
    if not _ATTRIBUTE_RE.fullmatch(value):
        raise ConfigError(key, f"{value!r} is not an attribute name")


def _check_dn(key: str, value: str | None, *, required: bool) -> None:
    if value is None:
        if required:
            raise ConfigError(key, "is required")
        return
    if not value.strip() or "=" not in value:
        raise ConfigError(key, f"{value!r} is not a DN, e.g. ou=people,dc=example,dc=org")


def _check_user_search(search: UserSearch) -> None:
    _check_dn("ldap.user_search.base_dn", search.base_dn, required=True)
    _check_filter("ldap.user_search.filter", search.filter)
    if not search.username_attributes:
        raise ConfigError("ldap.user_search.username_attributes", "must name an attribute")
    for attribute in search.username_attributes:
        _check_attribute("ldap.user_search.username_attributes", attribute)
    if search.scope not in SCOPES:
        raise ConfigError("ldap.user_search.scope", "must be sub or one")
    _check_attribute("ldap.user_search.display_name_attribute", search.display_name_attribute)
    _check_attribute("ldap.user_search.email_attribute", search.email_attribute)


def _check_group_search(search: GroupSearch) -> None:
    _check_dn("ldap.group_search.base_dn", search.base_dn, required=False)
    _check_filter("ldap.group_search.filter", search.filter)
    if search.scope not in SCOPES:
        raise ConfigError("ldap.group_search.scope", "must be sub or one")
    for matcher in search.user_matchers:
        _check_attribute("ldap.group_search.user_matchers", matcher.user_attribute, allow_dn=True)
        _check_attribute("ldap.group_search.user_matchers", matcher.group_attribute)
    _check_attribute("ldap.group_search.name_attribute", search.name_attribute)
    _check_attribute("ldap.group_search.member_of_attribute", search.member_of_attribute)
    if not 1 <= search.max_depth <= MAX_NESTING_DEPTH:
        raise ConfigError(
            "ldap.group_search.max_depth", f"must be a whole number from 1 to {MAX_NESTING_DEPTH}"
        )
    if search.nested:
        if search.base_dn is None:
            raise ConfigError("ldap.group_search.base_dn", "is required for nested groups")
        if not search.dn_attributes:
            raise ConfigError(
                "ldap.group_search.nested",
                'needs a user matcher with user_attribute = "DN" (e.g. member)',
            )
