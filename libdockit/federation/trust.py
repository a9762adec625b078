"""Trust policies: which external OIDC issuer's tokens Dockit accepts, and under what terms.

A :class:`TrustPolicy` names one issuer (found by OIDC discovery, or pinned to a static JWKS
for sites that cannot reach it), the audiences and signature algorithms it accepts, and how
much clock skew it forgives. Claim conditions and what a match is granted come later; this
record holds what the signature check (:mod:`libdockit.federation.verifier`) needs.

Only asymmetric algorithms are allowed: ``none`` proves nothing, and an HS* token would be
checked with a shared secret, which for a public issuer means its public key (the classic
confusion attack). Leeway is bounded so a policy cannot turn expiry off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError

__all__ = ["ASYMMETRIC_ALGORITHMS", "MAX_LEEWAY_SECONDS", "TrustPolicy"]

#: Every algorithm a trust policy may accept: RSA, RSA-PSS, ECDSA and EdDSA signatures.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: The most clock skew a policy may forgive on ``exp`` and ``nbf``.
MAX_LEEWAY_SECONDS = 300


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """One external issuer Dockit trusts. ``name`` is what clients send as the user name.

    ``static_jwks``: the issuer's keys as a JWKS document; when given, Dockit never fetches
    discovery or keys (air-gapped sites). Otherwise keys come from the ``jwks_uri`` of
    ``<issuer>/.well-known/openid-configuration``.
    """

    name: str
    issuer: str
    audiences: Sequence[str]
    algorithms: Sequence[str] = ("RS256", "ES256")
    leeway_seconds: int = 60
    static_jwks: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip():
            raise ValidationError("name", "must be non-empty, without surrounding spaces")
        if not self.issuer.startswith(("https://", "http://")):
            raise ValidationError("issuer", "must be an http(s) URL (the tokens' iss claim)")
        if isinstance(self.audiences, str) or not self.audiences or not all(self.audiences):
            raise ValidationError("audiences", "must be a non-empty list of non-empty names")
        if isinstance(self.algorithms, str) or not self.algorithms:
            raise ValidationError("algorithms", "must be a non-empty list")
        refused = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if refused:
            allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
            raise ValidationError(
                "algorithms", f"{', '.join(refused)} not allowed; choose from {allowed}"
            )
        if not 0 <= self.leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ValidationError(
                "leeway_seconds", f"must be between 0 and {MAX_LEEWAY_SECONDS} seconds"
            )
        if self.static_jwks is not None and not isinstance(self.static_jwks.get("keys"), list):
            raise ValidationError("static_jwks", 'must be a JWKS document: {"keys": [...]}')
        object.__setattr__(self, "audiences", tuple(self.audiences))
        object.__setattr__(self, "algorithms", tuple(self.algorithms))
