"""Trust policies: which external OIDC issuer's tokens Dockit accepts, and under what terms.

A :class:`TrustPolicy` names one issuer (found by OIDC discovery, or pinned to a static JWKS
for sites that cannot reach it), the audiences and signature algorithms it accepts, and how
much clock skew it forgives (what the signature check, :mod:`.verifier`, needs); then the
claim conditions a verified token must meet, what a match gets and the longest access token
it may have. A match gets exactly one of:

* ``grants``: grant templates, patterns with ``${claim.NAME}`` filled in from the claims
  (see :mod:`.claims`), e.g. ``ci/${claim.repository}/**``;
* ``robot``: a robot account's name; the token then acts with that robot's grants as they
  are at each login (see :mod:`.robots`), e.g. to let one repository's workflow push where
  an existing robot may, without handing the workflow the robot's secret.

Only asymmetric algorithms are allowed: ``none`` proves nothing, and an HS* token would be
checked with a shared secret, which for a public issuer means its public key (the classic
confusion attack). Leeway is bounded so a policy cannot turn expiry off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from ..model import ROBOT_PREFIX, normalize_actions, validate_name
from .claims import ClaimCondition, validate_template
from .jwks import is_trusted_url

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "MAX_LEEWAY_SECONDS",
    "MAX_TOKEN_LIFETIME_SECONDS",
    "GrantTemplate",
    "TrustPolicy",
    "policy_document",
    "policy_from_document",
]

#: Every algorithm a trust policy may accept: RSA, RSA-PSS, ECDSA and EdDSA signatures.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: The most clock skew a policy may forgive on ``exp`` and ``nbf``.
MAX_LEEWAY_SECONDS = 300
#: The longest access token a federated login may get (an hour, like the CI tokens).
MAX_TOKEN_LIFETIME_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class GrantTemplate:
    """What a match gets on repositories: ``actions`` on names matching ``pattern`` once its
    ``${claim.NAME}`` placeholders are filled (e.g. ``ci/${claim.repository}/**``)."""

    pattern: str
    actions: Sequence[str]

    def __post_init__(self) -> None:
        validate_template(self.pattern)
        object.__setattr__(self, "actions", normalize_actions(list(self.actions)))


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """One external issuer Dockit trusts. ``name`` is what clients send as the user name, so
    it follows the user-name rules (normalised to lower case, no shell metacharacters:
    ``docker login -u NAME`` needs no quoting).

    ``static_jwks``: the issuer's keys as a JWKS document; when given, Dockit never fetches
    discovery or keys (air-gapped sites). Otherwise keys come from the ``jwks_uri`` of
    ``<issuer>/.well-known/openid-configuration``.

    ``grants`` or ``robot``: what a match gets, exactly one of them (see the module docs).
    ``robot`` is a robot's name (``robot:NAME`` is taken too), normalised like every name.
    """

    name: str
    issuer: str
    audiences: Sequence[str]
    algorithms: Sequence[str] = ("RS256", "ES256")
    leeway_seconds: int = 60
    static_jwks: Mapping[str, Any] | None = field(default=None, compare=False)
    conditions: Sequence[ClaimCondition] = ()
    grants: Sequence[GrantTemplate] = ()
    max_token_lifetime_seconds: int = 300
    robot: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", validate_name(self.name))
        if not is_trusted_url(self.issuer):
            raise ValidationError(
                "issuer", "must be an https URL (http only to a loopback host): the tokens' iss"
            )
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
        if not 1 <= self.max_token_lifetime_seconds <= MAX_TOKEN_LIFETIME_SECONDS:
            raise ValidationError(
                "max_token_lifetime_seconds",
                f"must be between 1 and {MAX_TOKEN_LIFETIME_SECONDS} seconds",
            )
        object.__setattr__(self, "audiences", tuple(self.audiences))
        object.__setattr__(self, "conditions", tuple(self.conditions))
        object.__setattr__(self, "grants", tuple(self.grants))
        if self.robot is not None:
            name = self.robot.removeprefix(ROBOT_PREFIX)
            object.__setattr__(self, "robot", validate_name(name, field_name="robot"))
        if self.robot is not None and self.grants:
            raise ValidationError(
                "robot",
                "give grants or a robot account, not both: a policy that names a robot acts "
                "with that robot's grants",
            )
        if self.robot is None and not self.grants:
            raise ValidationError(
                "grants",
                "give what a match gets: grants (templates filled from the claims) or a robot "
                "account whose grants it acts with (robot)",
            )
        object.__setattr__(self, "algorithms", tuple(self.algorithms))


def policy_document(policy: TrustPolicy) -> dict[str, Any]:
    """``policy`` as a JSON-ready document: what stores keep, the Admin API and the CLI
    take and show (``conditions``: ``{"claim", "value"}``; ``grants``: ``{"pattern",
    "actions"}``; ``robot``: a name or null)."""
    return {
        "name": policy.name,
        "issuer": policy.issuer,
        "audiences": list(policy.audiences),
        "algorithms": list(policy.algorithms),
        "leeway_seconds": policy.leeway_seconds,
        "static_jwks": None if policy.static_jwks is None else dict(policy.static_jwks),
        "conditions": [{"claim": c.claim, "value": c.value} for c in policy.conditions],
        "grants": [{"pattern": g.pattern, "actions": list(g.actions)} for g in policy.grants],
        "max_token_lifetime_seconds": policy.max_token_lifetime_seconds,
        "robot": policy.robot,
    }


_REQUIRED = ("name", "issuer", "audiences")
_OPTIONAL = (
    "algorithms",
    "leeway_seconds",
    "static_jwks",
    "conditions",
    "grants",
    "max_token_lifetime_seconds",
    "robot",
)


def policy_from_document(document: Mapping[str, Any]) -> TrustPolicy:
    """The policy a :func:`policy_document` describes; ValidationError naming the field
    that is missing, unknown or wrong."""
    if not isinstance(document, Mapping):
        raise ValidationError("policy", "must be an object")
    unknown = sorted(set(document) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ValidationError(unknown[0], "is not a trust policy field")
    for name in _REQUIRED:
        if name not in document:
            raise ValidationError(name, "is required")
    fields = {name: document[name] for name in (*_REQUIRED, *_OPTIONAL) if name in document}
    for name in ("name", "issuer"):
        _expect(fields, name, str, "a string")
    for name in ("audiences", "algorithms", "conditions", "grants"):
        _expect(fields, name, list, "a list")
    for name in ("leeway_seconds", "max_token_lifetime_seconds"):
        if isinstance(fields.get(name), bool):
            raise ValidationError(name, "must be a whole number")
        _expect(fields, name, int, "a whole number")
    if fields.get("static_jwks") is not None:
        _expect(fields, "static_jwks", Mapping, "a JWKS document")
    if fields.get("robot") is not None:
        _expect(fields, "robot", str, "a robot account's name")
    if "conditions" in fields:
        fields["conditions"] = [_condition(entry) for entry in fields["conditions"]]
    if "grants" in fields:
        fields["grants"] = [_template(entry) for entry in fields["grants"]]
    return TrustPolicy(**fields)


def _expect(fields: Mapping[str, Any], name: str, kind: type, words: str) -> None:
    if name in fields and not isinstance(fields[name], kind):
        raise ValidationError(name, f"must be {words}")


def _condition(entry: Any) -> ClaimCondition:
    if not isinstance(entry, Mapping) or set(entry) != {"claim", "value"}:
        raise ValidationError("conditions", 'each must be {"claim": ..., "value": ...}')
    claim, value = entry["claim"], entry["value"]
    if not isinstance(claim, str) or not isinstance(value, str):
        raise ValidationError("conditions", "claim and value must be strings")
    return ClaimCondition(claim, value)


def _template(entry: Any) -> GrantTemplate:
    if not isinstance(entry, Mapping) or set(entry) != {"pattern", "actions"}:
        raise ValidationError("grants", 'each must be {"pattern": ..., "actions": [...]}')
    pattern, actions = entry["pattern"], entry["actions"]
    if not isinstance(pattern, str) or not isinstance(actions, list):
        raise ValidationError("grants", "pattern must be a string and actions a list")
    try:
        return GrantTemplate(pattern, actions)
    except ValidationError as error:
        if error.field == "grants":
            raise
        raise ValidationError("grants", f"{pattern!r}: {error.message}") from error
