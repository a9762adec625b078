"""Parse and format registry token scopes (distribution's docs/spec/auth/scope.md).

A scope value holds one or more space-separated resource scopes::

    resourcescope := resourcetype ':' resourcename ':' action (',' action)*
    resourcetype  := value ('(' value ')')?          e.g. ``repository(plugin)``

The type is what precedes the first ``:``, the actions what follows the last one, and the name
is everything between, so ``repository:localhost:5000/team/app:pull`` names
``localhost:5000/team/app``. Names are checked against distribution's reference grammar.
This module is pure: no I/O, no globals that change (but a cache of parsed requests).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .errors import ScopeError

#: Upper bound on resource scopes in one token request (after merging duplicates).
MAX_SCOPES = 100
#: Longest accepted raw scope parameter value, in characters.
MAX_SCOPE_VALUE_LENGTH = 8192
#: distribution's NameTotalLengthMax.
MAX_NAME_LENGTH = 255
#: Longer than any resource type a registry uses (repository, registry, ...).
MAX_RESOURCE_TYPE_LENGTH = 64

PULL = "pull"
PUSH = "push"
DELETE = "delete"
ALL = "*"
#: Actions Dockit can grant; anything else may be asked for but is never granted.
KNOWN_ACTIONS: tuple[str, ...] = (PULL, PUSH, DELETE, ALL)

_TYPE_VALUE = r"[a-z0-9]+"
_TYPE_RE = re.compile(rf"(?P<type>{_TYPE_VALUE})(?:\((?P<class>{_TYPE_VALUE})\))?")
_ACTION_RE = re.compile(r"[a-z][a-z0-9-]*|\*")

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
# Like docker's reference splitting, a first component is a host only if it has a dot, a
# port, is "localhost" or an IPv6 literal; "Team/app" is an invalid name, not a host "Team".
_HOST = rf"(?:localhost|{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})+|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"(?:{_HOST}(?::[0-9]+)?|{_DOMAIN_COMPONENT}:[0-9]+)"
_NAME_RE = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")


@dataclass(frozen=True, slots=True)
class ResourceScope:
    """One resource and the actions asked for (or granted) on it."""

    type: str
    name: str
    actions: tuple[str, ...]
    resource_class: str | None = None

    @property
    def type_with_class(self) -> str:
        if self.resource_class is None:
            return self.type
        return f"{self.type}({self.resource_class})"

    def format(self, actions: Sequence[str] | None = None) -> str:
        """``type[(class)]:name:actions``, with ``actions`` instead of this scope's if given."""
        shown = self.actions if actions is None else actions
        return f"{self.type_with_class}:{self.name}:{','.join(shown)}"


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid resource name, else raise :class:`ScopeError`."""
    if not name:
        raise ScopeError("resource name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ScopeError(f"resource name is longer than {MAX_NAME_LENGTH} characters")
    if _NAME_RE.fullmatch(name) is None:
        raise ScopeError(
            f"resource name {name!r} is invalid: use lowercase path components of letters, "
            "digits and single separators (. _ __ -) joined by '/', optionally after host[:port]/"
        )
    return name


def parse_resource_scope(text: str) -> ResourceScope:
    """Parse one ``type[(class)]:name:actions`` item."""
    first, last = text.find(":"), text.rfind(":")
    if first < 0 or first == last:
        raise ScopeError(f"scope {text!r} is not of the form type:name:actions")
    type_part, name, action_part = text[:first], text[first + 1 : last], text[last + 1 :]
    if len(type_part) > 2 * MAX_RESOURCE_TYPE_LENGTH + 2:  # type(class), each at most 64
        raise ScopeError(f"resource type is longer than {MAX_RESOURCE_TYPE_LENGTH} characters")
    type_match = _TYPE_RE.fullmatch(type_part)
    if type_match is not None and any(
        len(part or "") > MAX_RESOURCE_TYPE_LENGTH for part in type_match.group("type", "class")
    ):
        raise ScopeError(f"resource type is longer than {MAX_RESOURCE_TYPE_LENGTH} characters")
    if type_match is None:
        raise ScopeError(f"resource type {type_part!r} is invalid (lowercase letters and digits)")
    validate_name(name)
    if not action_part:
        raise ScopeError(f"scope {text!r} names no actions")
    actions: list[str] = []
    for action in action_part.split(","):
        if _ACTION_RE.fullmatch(action) is None:
            raise ScopeError(f"action {action!r} is invalid (lowercase word or '*')")
        if action not in actions:
            actions.append(action)
    return ResourceScope(
        type=type_match["type"],
        name=name,
        actions=tuple(actions),
        resource_class=type_match["class"],
    )


def parse_scopes(values: Iterable[str]) -> list[ResourceScope]:
    """Parse every ``scope`` parameter value of a request.

    Each value may hold several space-separated scopes; empty values are ignored. Scopes
    naming the same resource are merged, their actions united in the order first seen.
    """
    given = tuple(values)
    if sum(map(len, given)) <= _MAX_REMEMBERED_LENGTH:
        return list(_remembered_parse(given))
    return list(_parse(given))


def _parse(values: tuple[str, ...]) -> tuple[ResourceScope, ...]:
    merged: dict[tuple[str, str | None, str], list[str]] = {}
    for value in values:
        if len(value) > MAX_SCOPE_VALUE_LENGTH:
            raise ScopeError(f"scope value is longer than {MAX_SCOPE_VALUE_LENGTH} characters")
        for item in value.split(" "):
            if not item:
                continue
            scope = parse_resource_scope(item)
            key = (scope.type, scope.resource_class, scope.name)
            actions = merged.get(key)
            if actions is None:
                if len(merged) >= MAX_SCOPES:
                    raise ScopeError(f"more than {MAX_SCOPES} resource scopes in one request")
                merged[key] = list(scope.actions)
            else:
                actions.extend(a for a in scope.actions if a not in actions)
    return tuple(
        ResourceScope(type=t, name=n, actions=tuple(a), resource_class=c)
        for (t, c, n), a in merged.items()
    )


#: A pull storm asks for the same few scopes over and over: short requests' parses are
#: remembered (the checks cost several regular expressions per scope; results are frozen).
_remembered_parse = lru_cache(maxsize=4096)(_parse)
_MAX_REMEMBERED_LENGTH = 1024


def format_scopes(scopes: Iterable[ResourceScope]) -> str:
    """The space-separated form, as the OAuth2 answer's ``scope`` field carries it."""
    return " ".join(scope.format() for scope in scopes)
