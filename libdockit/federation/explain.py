"""Why a token's claims match a trust policy or not, and what its grants become: what
``dockit explain --federated POLICY`` shows. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .claims import interpolate
from .matching import PolicyMatch, match_policy
from .trust import TrustPolicy

__all__ = ["ConditionCheck", "FederatedExplanation", "GrantOutcome", "explain_claims"]


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
class FederatedExplanation:
    """Every condition with its outcome, every template with its filled pattern, and the
    match (whose grants a login would get) with the policy's token lifetime."""

    policy: str
    conditions: tuple[ConditionCheck, ...]
    grants: tuple[GrantOutcome, ...]
    match: PolicyMatch
    token_lifetime: int
    #: When a token was given: whether it verified (``verified``, and ``reason`` if not)
    #: and what identifies it (``issuer``, ``sub``, ``jti``, ``kid``); its claims are
    #: explained either way.
    token: Mapping[str, Any] | None = None

    @property
    def matched(self) -> bool:
        return self.match.matched

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "matched": self.matched,
            "reasons": self.match.reasons(),
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
        }


def explain_claims(
    policy: TrustPolicy, claims: Mapping[str, Any], *, token: Mapping[str, Any] | None = None
) -> FederatedExplanation:
    """What ``claims`` (a token's, verified or not: see ``token``) meet of ``policy`` and
    would get."""
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
        token_lifetime=policy.max_token_lifetime_seconds,
        token=token,
    )
