"""Workload identity federation: external OIDC tokens (CI jobs, Kubernetes pods) checked
against trust policies. See :mod:`.trust`, :mod:`.jwks` and :mod:`.verifier`."""

from .jwks import IssuerKey, KeySource, RemoteKeys, StaticKeys, fetch_url, parse_jwks
from .trust import ASYMMETRIC_ALGORITHMS, MAX_LEEWAY_SECONDS, TrustPolicy
from .verifier import FederatedToken, FederatedTokenVerifier

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "MAX_LEEWAY_SECONDS",
    "FederatedToken",
    "FederatedTokenVerifier",
    "IssuerKey",
    "KeySource",
    "RemoteKeys",
    "StaticKeys",
    "TrustPolicy",
    "fetch_url",
    "parse_jwks",
]
