"""Explain a decision: for every requested action, granted or not, and by which grants.

Built from :class:`~libdockit.policy.Decision`, so an explanation can never disagree with
the token the same request would get.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Grant, Identity
from .policy import Decision
from .scope import ResourceScope


@dataclass(frozen=True, slots=True)
class ActionExplanation:
    action: str
    granted: bool
    #: The grants that give this action (empty when denied: nothing matched).
    grants: tuple[Grant, ...]


@dataclass(frozen=True, slots=True)
class ScopeExplanation:
    scope: ResourceScope
    actions: tuple[ActionExplanation, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    subject: str
    #: The groups whose grants were considered (empty for anonymous callers).
    groups: tuple[str, ...]
    scopes: tuple[ScopeExplanation, ...]
    #: The robot (``robot:NAME``) or personal access token (``pat:ID``) explained, if any.
    credential: str | None = None


def explain_decision(
    identity: Identity | None, decision: Decision, *, credential: str | None = None
) -> Explanation:
    scopes = []
    for scope_decision in decision.scopes:
        actions = tuple(
            ActionExplanation(
                action=action,
                granted=action in scope_decision.granted,
                grants=tuple(m.grant for m in scope_decision.matches if action in m.actions),
            )
            for action in scope_decision.requested.actions
        )
        scopes.append(ScopeExplanation(scope=scope_decision.requested, actions=actions))
    return Explanation(
        subject=decision.subject,
        groups=identity.groups if identity is not None else (),
        scopes=tuple(scopes),
        credential=credential,
    )
