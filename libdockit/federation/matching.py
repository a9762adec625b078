"""What a verified external token gets under its trust policy: every claim condition must
hold, then each grant template is filled from the claims.

Pure: no I/O, no clock. The outcome says why (the conditions not met, the templates a claim
could not fill) so ``explain`` and the audit log can show it; a token that meets the
conditions but fills no template gets nothing, which the caller treats like any login
without grants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model import Grant
from .claims import ClaimCondition, interpolate, unmet_conditions
from .trust import TrustPolicy

__all__ = ["FEDERATION_PREFIX", "PolicyMatch", "match_policy"]

#: The subject of the grants a federated login gets: ``federation:<policy name>``.
FEDERATION_PREFIX = "federation:"
_REPOSITORY = "repository"


@dataclass(frozen=True, slots=True)
class PolicyMatch:
    """The outcome: ``matched`` when every condition holds; ``grants`` then holds the filled
    templates, and ``unusable`` the templates a claim could not fill."""

    policy: str
    unmet: tuple[ClaimCondition, ...]
    grants: tuple[Grant, ...]
    unusable: tuple[str, ...]

    @property
    def matched(self) -> bool:
        return not self.unmet

    def reasons(self) -> list[str]:
        """Why, in words, for explain and refusal messages (never a claim's value)."""
        if self.unmet:
            return [f"claim condition not met: {condition}" for condition in self.unmet]
        return [f"no usable claim for grant pattern {pattern}" for pattern in self.unusable]


def match_policy(policy: TrustPolicy, claims: Mapping[str, Any]) -> PolicyMatch:
    """The conditions ``claims`` miss and, when none, the grants they fill."""
    unmet = tuple(unmet_conditions(policy.conditions, claims))
    if unmet:
        return PolicyMatch(policy.name, unmet, (), ())
    grants, unusable = [], []
    for template in policy.grants:
        pattern = interpolate(template.pattern, claims)
        if pattern is None:
            unusable.append(template.pattern)
            continue
        grants.append(
            Grant(
                subject=FEDERATION_PREFIX + policy.name,
                resource_type=_REPOSITORY,
                pattern=pattern,
                actions=tuple(template.actions),
            )
        )
    return PolicyMatch(policy.name, (), tuple(grants), tuple(unusable))
