"""Why a token's claims match a trust policy or not, and what its grants become (or, for a
policy that names a robot account, the robot's grants and whether it may act now, found by
the caller): what ``dockit explain --federated POLICY`` shows. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model import Grant
from .claims import interpolate
from .matching import PolicyMatch, match_policy
from .trust import TrustPolicy

__all__ = [
    "ConditionCheck",
    "FederatedExplanation",
    "GrantOutcome",
    "RobotOutcome",
    "explain_claims",
]


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """One claim condition: what it asks, and whether the claims meet it."""

    claim: str
    value: str
    glob: bool
    met: bool


@dataclass(frozen=True, slots=True)
class GrantOutcome:
    """One grant template and the pattern the claims fill in (None: they cannot)."""

    template: str
    actions: tuple[str, ...]
    pattern: str | None


@dataclass(frozen=True, slots=True)
class RobotOutcome:
    """What a policy's robot account gives a login now: ``refusal`` says why a login would
    be refused (None: it would pass), ``grants`` are the robot's and the public ones,
    ``token_lifetime`` the robot's own access-token lifetime (None: it has none)."""

    name: str
    refusal: str | None
    grants: tuple[Grant, ...]
    token_lifetime: int | None


@dataclass(frozen=True, slots=True)
class FederatedExplanation:
    """Every condition with its outcome, every template with its filled pattern (or the
    policy's robot), and the match (whose grants a login would get) with the longest
    access token it may get."""

    policy: str
    conditions: tuple[ConditionCheck, ...]
    grants: tuple[GrantOutcome, ...]
    match: PolicyMatch
    token_lifetime: int
    #: When a token was given: whether it verified (``verified``, and ``reason`` if not)
    #: and what identifies it (``issuer``, ``sub``, ``jti``, ``kid``); its claims are
    #: explained either way.
    token: Mapping[str, Any] | None = None
    #: For a policy that names a robot account: what it gives now.
    robot: RobotOutcome | None = None

    @property
    def matched(self) -> bool:
        """Whether a login with these claims would pass (its token verified)."""
        return self.match.matched and (self.robot is None or self.robot.refusal is None)

    def reasons(self) -> list[str]:
        reasons = self.match.reasons()
        if self.robot is not None and self.robot.refusal is not None:
            reasons.append(self.robot.refusal)
        return reasons

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "matched": self.matched,
            "reasons": self.reasons(),
            "conditions": [
                {"claim": c.claim, "value": c.value, "glob": c.glob, "met": c.met}
                for c in self.conditions
            ],
            "grants": [
                {"template": g.template, "actions": list(g.actions), "pattern": g.pattern}
                for g in self.grants
            ],
            "token_lifetime": self.token_lifetime,
            **({"token": dict(self.token)} if self.token is not None else {}),
            **({"robot": _robot_json(self.robot)} if self.robot is not None else {}),
        }


def _robot_json(robot: RobotOutcome) -> dict[str, Any]:
    return {
        "name": robot.name,
        "usable": robot.refusal is None,
        "refusal": robot.refusal,
        "grants": [
            {
                "subject": g.subject,
                "resource_type": g.resource_type,
                "pattern": g.pattern,
                "actions": list(g.actions),
            }
            for g in robot.grants
        ],
        "token_lifetime": robot.token_lifetime,
    }


def explain_claims(
    policy: TrustPolicy,
    claims: Mapping[str, Any],
    *,
    token: Mapping[str, Any] | None = None,
    robot: RobotOutcome | None = None,
) -> FederatedExplanation:
    """What ``claims`` (a token's, verified or not: see ``token``) meet of ``policy`` and
    would get; ``robot``: what the policy's robot gives now, when it names one."""
    conditions = tuple(
        ConditionCheck(c.claim, c.value, c.is_glob, c.matches(claims)) for c in policy.conditions
    )
    grants = tuple(
        GrantOutcome(t.pattern, tuple(t.actions), interpolate(t.pattern, claims))
        for t in policy.grants
    )
    return FederatedExplanation(
        policy=policy.name,
        conditions=conditions,
        grants=grants,
        match=match_policy(policy, claims),
        token_lifetime=_lifetime(policy, robot),
        token=token,
        robot=robot,
    )


def _lifetime(policy: TrustPolicy, robot: RobotOutcome | None) -> int:
    """The policy's cap, cut to its robot's own lifetime (the service's is the server's)."""
    cap = policy.max_token_lifetime_seconds
    if robot is not None and robot.token_lifetime is not None:
        return min(cap, robot.token_lifetime)
    return cap
