"""Decide what a caller may do: union of grants, deny by default.

A caller holds the subjects ``anonymous`` (everyone), and when logged in also
``authenticated``, ``user:NAME`` and ``group:G`` for each enabled group. Every grant whose
subject the caller holds, whose resource type equals the requested one and whose pattern
matches the requested name contributes its actions; ``push`` implies ``pull`` and ``*``
means every action. The token carries granted ∩ requested. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .model import ANONYMOUS, AUTHENTICATED, GROUP_PREFIX, USER_PREFIX, Grant, Identity
from .patterns import compile_pattern
from .scope import ALL, DELETE, KNOWN_ACTIONS, PULL, PUSH, ResourceScope

_IMPLIED: dict[str, frozenset[str]] = {
    PULL: frozenset({PULL}),
    PUSH: frozenset({PUSH, PULL}),
    DELETE: frozenset({DELETE}),
    ALL: frozenset(KNOWN_ACTIONS),
}


def implied_actions(actions: Iterable[str]) -> frozenset[str]:
    """Every action the given grant actions allow."""
    if isinstance(actions, tuple):
        return _implied_by_tuple(actions)
    return _implied(actions)


def _implied(actions: Iterable[str]) -> frozenset[str]:
    allowed: set[str] = set()
    for action in actions:
        allowed |= _IMPLIED.get(action, frozenset())
    return frozenset(allowed)


#: Grants hold their actions as one of a few tuples: each one's answer is worked out once.
_implied_by_tuple = lru_cache(maxsize=256)(_implied)


def subjects_for(identity: Identity | None) -> tuple[str, ...]:
    """The grant subjects a caller holds, most specific first."""
    if identity is None:
        return (ANONYMOUS,)
    groups = tuple(GROUP_PREFIX + group for group in identity.groups)
    return (USER_PREFIX + identity.username, *groups, AUTHENTICATED, ANONYMOUS)


@dataclass(frozen=True, slots=True)
class GrantMatch:
    """A grant that applied to a requested resource and the requested actions it gave."""

    grant: Grant
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScopeDecision:
    requested: ResourceScope
    granted: tuple[str, ...]
    matches: tuple[GrantMatch, ...]

    @property
    def denied(self) -> tuple[str, ...]:
        return tuple(a for a in self.requested.actions if a not in self.granted)

    def to_access(self) -> dict[str, Any]:
        """The JWT ``access`` entry; actions are always listed explicitly."""
        entry: dict[str, Any] = {"type": self.requested.type, "name": self.requested.name}
        if self.requested.resource_class is not None:
            entry["class"] = self.requested.resource_class
        entry["actions"] = list(self.granted)
        return entry


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for every requested resource, in request order."""

    subject: str
    scopes: tuple[ScopeDecision, ...]

    def access(self) -> list[dict[str, Any]]:
        return [scope.to_access() for scope in self.scopes]

    def granted_texts(self) -> list[str]:
        """:meth:`granted_scopes`, formatted (without building the scopes)."""
        return [s.requested.format(s.granted) for s in self.scopes if s.granted]

    def granted_scopes(self) -> list[ResourceScope]:
        """Resources with at least one granted action, as scopes carrying those actions."""
        return [
            ResourceScope(
                type=s.requested.type,
                name=s.requested.name,
                actions=s.granted,
                resource_class=s.requested.resource_class,
            )
            for s in self.scopes
            if s.granted
        ]


def decide(
    identity: Identity | None,
    grants: Iterable[Grant],
    requested: Sequence[ResourceScope],
    subjects: Sequence[str] | None = None,
) -> Decision:
    """Resolve ``requested`` against ``grants`` for ``identity`` (None means anonymous).

    Grants whose subject the caller does not hold are ignored, so a store may pass more
    grants than apply. ``subjects``: :func:`subjects_for` ``identity``, when the caller
    has it already (it asked the store for those subjects' grants).
    """
    # Every token request runs this: list comprehensions and positional arguments, which
    # cost less than generator expressions and keywords.
    held = set(subjects_for(identity) if subjects is None else subjects)
    applicable = [grant for grant in grants if grant.subject in held]
    username = identity.username if identity is not None else None
    decisions = []
    for scope in requested:
        matches: list[GrantMatch] = []
        granted: set[str] = set()
        for grant in applicable:
            if grant.resource_type != scope.type:
                continue
            if not compile_pattern(grant.pattern).matches(scope.name, username):
                continue
            allowed = implied_actions(grant.actions)
            given = tuple([a for a in scope.actions if a in allowed])
            if given:
                matches.append(GrantMatch(grant, given))
                granted.update(given)
        given_here = tuple([a for a in scope.actions if a in granted])
        decisions.append(ScopeDecision(scope, given_here, tuple(matches)))
    subject = USER_PREFIX + identity.username if identity is not None else ANONYMOUS
    return Decision(subject, tuple(decisions))
