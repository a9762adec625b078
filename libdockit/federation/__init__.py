"""Workload identity federation: external OIDC tokens (CI jobs, Kubernetes pods) checked
against trust policies. See :mod:`.trust`, :mod:`.jwks` and :mod:`.verifier`."""

from .claims import ClaimCondition, interpolate, unmet_conditions
from .exchange import (
    FEDERATION_SOURCE,
    FederationExchange,
    FederationSource,
    federated_delegation,
)
from .explain import FederatedExplanation, RobotOutcome, explain_claims
from .jwks import (
    IssuerKey,
    KeySource,
    RemoteKeys,
    StaticKeys,
    fetch_url,
    is_trusted_url,
    parse_jwks,
)
from .logins import FederatedLogin, Federation, IssuerKeys, looks_like_jwt
from .matching import FEDERATION_PREFIX, PolicyMatch, match_policy
from .robots import PolicyRobots
from .stored import FederationOptions, StoredFederation
from .trust import (
    ASYMMETRIC_ALGORITHMS,
    MAX_LEEWAY_SECONDS,
    MAX_TOKEN_LIFETIME_SECONDS,
    GrantTemplate,
    TrustPolicy,
    policy_document,
    policy_from_document,
)
from .verifier import FederatedToken, FederatedTokenVerifier

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "FEDERATION_PREFIX",
    "FEDERATION_SOURCE",
    "MAX_LEEWAY_SECONDS",
    "MAX_TOKEN_LIFETIME_SECONDS",
    "ClaimCondition",
    "FederatedExplanation",
    "FederatedLogin",
    "FederatedToken",
    "FederatedTokenVerifier",
    "Federation",
    "FederationExchange",
    "FederationOptions",
    "FederationSource",
    "GrantTemplate",
    "IssuerKey",
    "IssuerKeys",
    "KeySource",
    "PolicyMatch",
    "PolicyRobots",
    "RemoteKeys",
    "RobotOutcome",
    "StaticKeys",
    "StoredFederation",
    "TrustPolicy",
    "explain_claims",
    "federated_delegation",
    "fetch_url",
    "interpolate",
    "is_trusted_url",
    "looks_like_jwt",
    "match_policy",
    "parse_jwks",
    "policy_document",
    "policy_from_document",
    "unmet_conditions",
]
