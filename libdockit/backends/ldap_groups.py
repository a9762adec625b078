"""A directory user's groups: user matchers, the user's own ``memberOf``, nested groups; and a
short-lived cache of the answer.

Every value that goes into a filter (a uid, a user DN, a group DN) is escaped. Group names
are normalised like every Dockit name (NFKC, lower case); a directory group whose name is not
a valid Dockit name (e.g. ``All Staff``, with a space) cannot be the subject of a grant and is
left out, with a debug log line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import ValidationError
from ..model import validate_name
from .ldap_config import GroupSearch
from .ldap_directory import Directory, Entry
from .ldap_driver import LDAPException, escape, parse_dn

log = logging.getLogger("dockit.ldap")

#: Values per ``(|...)`` filter when searching for many groups at once.
FILTER_CHUNK = 50
DEFAULT_CACHE_ENTRIES = 10_000


def normalize_dn(dn: str) -> str:
    """A DN for comparisons: attribute types and values lower case, spaces around , and =
    removed. (Full RFC 4518 matching rules are the server's business; this is what OpenLDAP,
    389-ds and AD return in practice.)"""
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except LDAPException:
        return dn.strip().lower()
    return ",".join(f"{attr.strip().lower()}={value.strip().lower()}" for attr, value, _ in parts)


def _under(dn: str, base: str) -> bool:
    return dn == base or dn.endswith("," + base)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Found:
    dn: str
    name: str | None


class GroupResolver:
    """Finds the names of the groups a user entry belongs to, per :class:`GroupSearch`."""

    def __init__(self, settings: GroupSearch, directory: Directory) -> None:
        self._settings = settings
        self._directory = directory
        self._base = normalize_dn(settings.base_dn) if settings.base_dn is not None else None

    def user_attributes(self) -> tuple[str, ...]:
        """Attributes of the user entry the resolver needs."""
        names = [m.user_attribute for m in self._settings.user_matchers if m.user_attribute != "DN"]
        if self._settings.member_of_attribute is not None:
            names.append(self._settings.member_of_attribute)
        return tuple(dict.fromkeys(names))

    def groups_of(self, user: Entry) -> tuple[str, ...]:
        found: dict[str, _Found] = {}
        self._from_member_of(user, found)
        self._from_matchers(user, found)
        self._name_unnamed(found)
        if self._settings.nested:
            self._follow_nesting(found)
        names: set[str] = set()
        for group in found.values():
            if group.name is None:
                continue
            try:
                names.add(validate_name(group.name))
            except ValidationError:
                log.debug("directory group %r has no valid Dockit name; ignored", group.dn)
        return tuple(sorted(names))

    # -- sources ------------------------------------------------------------------------------
    def _from_member_of(self, user: Entry, found: dict[str, _Found]) -> None:
        attribute = self._settings.member_of_attribute
        if attribute is None:
            return
        name_attribute = self._settings.name_attribute.lower()
        for dn in user.values(attribute):
            key = normalize_dn(dn)
            if self._base is not None and not _under(key, self._base):
                continue
            name = None
            try:
                rdn = parse_dn(dn, escape=False, strip=True)[0]
            except (LDAPException, IndexError):
                rdn = None
            if rdn is not None and rdn[0].strip().lower() == name_attribute and "\\" not in rdn[1]:
                name = rdn[1].strip()
            found.setdefault(key, _Found(dn, name))

    def _from_matchers(self, user: Entry, found: dict[str, _Found]) -> None:
        if self._settings.base_dn is None:
            return
        clauses = [
            f"({matcher.group_attribute}={escape(value)})"
            for matcher in self._settings.user_matchers
            for value in user.values(matcher.user_attribute)
        ]
        for entry in self._search_groups(clauses):
            found.setdefault(
                normalize_dn(entry.dn), _Found(entry.dn, entry.first(self._settings.name_attribute))
            )

    def _name_unnamed(self, found: dict[str, _Found]) -> None:
        """memberOf values whose RDN is not the name attribute: read the group entries."""
        for key, group in list(found.items()):
            if group.name is not None:
                continue
            entries = self._directory.search(
                group.dn,
                self._settings.filter,
                scope="base",
                attributes=(self._settings.name_attribute,),
                missing_ok=True,
            )
            if entries:
                group.name = entries[0].first(self._settings.name_attribute)
            else:
                del found[key]  # dangling, or not a group by the group filter

    def _follow_nesting(self, found: dict[str, _Found]) -> None:
        frontier = [group.dn for group in found.values()]
        for _ in range(self._settings.max_depth):
            clauses = [
                f"({attribute}={escape(dn)})"
                for dn in frontier
                for attribute in self._settings.dn_attributes
            ]
            frontier = []
            for entry in self._search_groups(clauses):
                key = normalize_dn(entry.dn)
                if key in found:
                    continue  # seen: this is how a cycle ends
                found[key] = _Found(entry.dn, entry.first(self._settings.name_attribute))
                frontier.append(entry.dn)
            if not frontier:
                return

    def _search_groups(self, clauses: list[str]) -> list[Entry]:
        if not clauses or self._settings.base_dn is None:
            return []
        entries: list[Entry] = []
        for chunk in _chunks(clauses, FILTER_CHUNK):
            entries += self._directory.search(
                self._settings.base_dn,
                f"(&{self._settings.filter}(|{''.join(chunk)}))",
                scope=self._settings.scope,
                attributes=(self._settings.name_attribute,),
            )
        return entries


class GroupCache:
    """Group names per username for ``ttl`` seconds of ``clock`` (0 disables the cache)."""

    def __init__(
        self,
        ttl: float,
        *,
        clock: Callable[[], float],
        max_entries: int = DEFAULT_CACHE_ENTRIES,
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, tuple[str, ...]]] = {}

    def get(self, username: str) -> tuple[str, ...] | None:
        if self._ttl <= 0:
            return None
        with self._lock:
            cached = self._entries.get(username)
            if cached is None:
                return None
            expires, groups = cached
            if self._clock() >= expires:
                del self._entries[username]
                return None
            return groups

    def put(self, username: str, groups: tuple[str, ...]) -> None:
        if self._ttl <= 0:
            return
        now = self._clock()
        with self._lock:
            self._entries.pop(username, None)
            if len(self._entries) >= self._max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                while len(self._entries) >= self._max_entries:
                    del self._entries[next(iter(self._entries))]  # the oldest
            self._entries[username] = (now + self._ttl, groups)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
