"""A directory user's groups: user matchers, the user's own ``memberOf``, nested groups; and a
short-lived cache of the answer.

Every value that goes into a filter (a uid, a user DN, a group DN) is escaped. Group names
are normalised like every Dockit name (NFKC, lower case); a directory group whose name is not
a valid Dockit name (e.g. ``All Staff``, with a space) cannot be the subject of a grant and is
left out, with a debug log line.

How a group is named, the same whichever way it was found (group search, nesting,
``memberOf``), by :func:`group_name`: the value of its DN's first RDN when that RDN is the
name attribute (``cn=devs,ou=groups,...`` is ``devs``): a DN names one entry and cannot be
changed by adding values. Otherwise (another RDN attribute, or a multi-valued RDN) the name
attribute, when it has exactly one value. A group whose ``cn`` has several values is so
named by its RDN and never by another of its values, so it cannot take the admin group's
name; one that the rule cannot name is left out, with a warning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ...errors import ValidationError
from ...model import validate_name
from .config import GroupSearch
from .directory import Directory, Entry
from .driver import LDAPException, escape, parse_dn

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


def group_name(dn: str, name_attribute: str, values: list[str] | None) -> str | None:
    """The group's name by the rule in the module docs; None when it has none. ``values``
    are the entry's name attribute values (None: not read yet; the RDN may be enough)."""
    try:
        rdn = parse_dn(dn, escape=False, strip=True)
    except LDAPException:
        rdn = []
    single = bool(rdn) and rdn[0][2] != "+"  # "+": the RDN has several attribute values
    if single and rdn[0][0].strip().lower() == name_attribute.lower() and "\\" not in rdn[0][1]:
        return str(rdn[0][1]).strip()
    if values is None:
        return None
    if len(values) == 1:
        return values[0]
    if values:
        log.warning(
            "directory group %r has %d values of %s and its RDN is not %s: ignored",
            dn,
            len(values),
            name_attribute,
            name_attribute,
        )
    return None


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
        for dn in user.values(attribute):
            key = normalize_dn(dn)
            if self._base is not None and not _under(key, self._base):
                continue
            found.setdefault(key, _Found(dn, group_name(dn, self._settings.name_attribute, None)))

    def _from_matchers(self, user: Entry, found: dict[str, _Found]) -> None:
        if self._settings.base_dn is None:
            return
        clauses = [
            f"({matcher.group_attribute}={escape(value)})"
            for matcher in self._settings.user_matchers
            for value in user.values(matcher.user_attribute)
        ]
        for entry in self._search_groups(clauses):
            found.setdefault(normalize_dn(entry.dn), self._found(entry))

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
                group.name = self._found(entries[0]).name
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
                found[key] = self._found(entry)
                frontier.append(entry.dn)
            if not frontier:
                return

    def _found(self, entry: Entry) -> _Found:
        attribute = self._settings.name_attribute
        return _Found(entry.dn, group_name(entry.dn, attribute, list(entry.values(attribute))))

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
