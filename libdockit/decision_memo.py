"""Token decisions remembered while nothing they depend on changes.

A pull storm asks for the same scopes with the same credentials over and over, and between
two changes of the store every such request is decided the same way. A decision depends
only on the scopes asked for, the subjects the caller holds (and the user name that
``${user}`` patterns stand for) and the grants the store returned for those subjects, so
that is what a remembered one is found by. The grants are taken by identity: the stores
hand out the same (frozen) Grant objects while their policy version stays, and any change
to a grant makes new ones. Each entry keeps the grant objects it was made from alive, so
their ``id`` values cannot be reused by other objects while the entry exists; a request is
still decided from the grants the store gives it now, so a change applies from the very
next request, in every process, as before.

Besides the decision, an entry holds what every token it issues repeats: the ``access``
claim as JSON and the requested and granted scopes as the audit log records them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from .model import Grant, Identity
from .policy import Decision, decide
from .scope import ResourceScope
from .tokens import access_json

#: Decisions from more grants than this are not remembered: the key would cost about as
#: much as deciding again, and each entry keeps its grants alive.
MAX_GRANTS_REMEMBERED = 64
DEFAULT_ENTRIES = 4096
#: Requests whose scope values are longer than this in all are not remembered: each entry
#: keeps its key's texts, and a pull storm's scopes are short.
MAX_SCOPE_TEXT_REMEMBERED = 1024


@dataclass(frozen=True, slots=True)
class PreparedDecision:
    """A decision and what each token and audit event made from it repeats."""

    decision: Decision
    #: The token's ``access`` claim, as compact JSON.
    access_json: str
    #: Each requested scope, formatted (the audit event's ``requested``).
    requested: tuple[str, ...]
    #: Each resource with granted actions, formatted (the audit event's ``granted``).
    granted: tuple[str, ...]


def prepared(decision: Decision) -> PreparedDecision:
    return PreparedDecision(
        decision,
        access_json(decision.access()),
        tuple([scope.requested.format() for scope in decision.scopes]),
        tuple(decision.granted_texts()),
    )


def rememberable(scope_texts: tuple[str, ...]) -> bool:
    """Whether a request with these scope values may be remembered (they are short)."""
    return sum(map(len, scope_texts)) <= MAX_SCOPE_TEXT_REMEMBERED


class DecisionMemo:
    """A bounded map from what decides a token request to its :class:`PreparedDecision`.

    ``max_entries`` 0 remembers nothing. The oldest entry goes first when it is full.
    """

    def __init__(self, max_entries: int = DEFAULT_ENTRIES) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must not be negative")
        self._max = max_entries
        self._entries: dict[Hashable, tuple[Sequence[Grant], PreparedDecision]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def decide(
        self,
        identity: Identity | None,
        grants: Sequence[Grant],
        scopes: Sequence[ResourceScope],
        subjects: tuple[str, ...],
        scope_texts: tuple[str, ...],
    ) -> PreparedDecision:
        """:func:`~libdockit.policy.decide` for ``scopes`` (parsed from ``scope_texts``,
        the request's scope values as sent), prepared; remembered when it may be."""
        username = identity.username if identity is not None else None
        if not rememberable(scope_texts):
            return prepared(decide(identity, grants, scopes, subjects))
        return self.remember(
            (scope_texts, subjects, username),
            grants,
            lambda: prepared(decide(identity, grants, scopes, subjects)),
        )

    def remember(
        self, key: Hashable, grants: Sequence[Grant], make: Callable[[], PreparedDecision]
    ) -> PreparedDecision:
        """What ``make`` prepares from ``grants``, remembered under ``key`` and the grants'
        identity. ``key`` must hold everything else the decision depends on."""
        if self._max == 0 or len(grants) > MAX_GRANTS_REMEMBERED:
            return make()
        found = (key, tuple(map(id, grants)))
        entry = self._entries.get(found)
        if entry is not None:
            return entry[1]
        made = make()
        entries = self._entries
        if len(entries) >= self._max:
            try:  # another thread may have taken the same oldest entry out
                del entries[next(iter(entries))]
            except (KeyError, StopIteration, RuntimeError):
                entries.clear()
        # The grants go with the key: while the entry exists, no other object can have
        # one of the ids it was found by.
        entries[found] = (tuple(grants), made)
        return made
