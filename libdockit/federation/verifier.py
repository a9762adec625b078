"""Checks an external OIDC token against a trust policy, as a relying party must.

In order: the header parses and names an algorithm the policy allows (never ``none`` or
HS*); the ``kid`` finds a key of the issuer whose type fits that algorithm; the signature
verifies; ``iss`` is the policy's issuer; ``aud`` holds one of its audiences; ``exp`` is
present and ``exp``/``nbf`` hold at the injected clock within the policy's leeway. pyjwt
checks signature, ``iss`` and ``aud``; time is checked here so tests and the service share
one clock.

Every refusal is :class:`~libdockit.errors.AuthenticationFailed` (401) with a reason that
never quotes the token; an issuer whose keys cannot be had raises
:class:`~libdockit.errors.BackendUnavailable` (503) from the key source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from ..clock import Clock, utc_now
from ..errors import AuthenticationFailed
from .jwks import IssuerKey, KeySource
from .trust import TrustPolicy

__all__ = ["FederatedToken", "FederatedTokenVerifier"]

#: Which key types can check which algorithms (RFC 7518 §3.1, RFC 8037).
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


@dataclass(frozen=True, slots=True)
class FederatedToken:
    """A verified external token: its claims, and what the audit log keeps of it."""

    policy: str
    issuer: str
    subject: str | None
    jti: str | None
    kid: str | None
    expires_at: datetime
    claims: Mapping[str, Any]


class FederatedTokenVerifier:
    """Verifies tokens for one :class:`TrustPolicy` with keys from ``keys``."""

    def __init__(self, policy: TrustPolicy, keys: KeySource, *, clock: Clock = utc_now) -> None:
        self._policy = policy
        self._keys = keys
        self._clock = clock
        self._leeway = timedelta(seconds=policy.leeway_seconds)

    @property
    def policy(self) -> TrustPolicy:
        return self._policy

    def verify(self, token: str) -> FederatedToken:
        """The token's claims if it passes every check; AuthenticationFailed otherwise."""
        header = _header(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._policy.algorithms:
            raise _refused(f"algorithm {algorithm!r} is not accepted by this trust policy")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _refused("the token's kid is not a string")
        key = self._keys.key(kid)
        if key is None:
            raise _refused("no key of the issuer matches the token's kid")
        if key.key_type != _KEY_TYPES.get(algorithm[:2]):
            raise _refused(f"the issuer's key {kid!r} cannot check {algorithm}")
        if key.algorithm not in (algorithm, None):
            raise _refused(f"the issuer's key {kid!r} is for {key.algorithm}, not {algorithm}")
        claims = self._decode(token, key, algorithm)
        expires_at = self._check_time(claims)
        subject, jti = claims.get("sub"), claims.get("jti")
        return FederatedToken(
            policy=self._policy.name,
            issuer=self._policy.issuer,
            subject=subject if isinstance(subject, str) else None,
            jti=jti if isinstance(jti, str) else None,
            kid=kid,
            expires_at=expires_at,
            claims=claims,
        )

    def _decode(self, token: str, key: IssuerKey, algorithm: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public_key,
                algorithms=[algorithm],
                audience=list(self._policy.audiences),
                issuer=self._policy.issuer,
                options={
                    "require": ["iss", "aud", "exp"],
                    "verify_exp": False,  # checked in _check_time with the injected clock
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError as error:
            raise _refused("the signature does not verify") from error
        except jwt.InvalidIssuerError as error:
            raise _refused("the token's iss is not this trust policy's issuer") from error
        except jwt.InvalidAudienceError as error:
            raise _refused("the token's aud names none of this policy's audiences") from error
        except jwt.MissingRequiredClaimError as error:
            raise _refused(f"the token has no {error.claim!r} claim") from error
        except jwt.InvalidTokenError as error:
            raise _refused(f"the token is malformed: {type(error).__name__}") from error
        return claims

    def _check_time(self, claims: Mapping[str, Any]) -> datetime:
        now = self._clock()
        expires_at = _instant(claims, "exp")
        assert expires_at is not None  # required in _decode
        if now >= expires_at + self._leeway:
            raise _refused("the token has expired")
        not_before = _instant(claims, "nbf")
        if not_before is not None and now + self._leeway < not_before:
            raise _refused("the token is not valid yet (nbf)")
        return expires_at


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.DecodeError as error:
        raise _refused("the password is not a signed JWT") from error


def _instant(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refused(f"the token's {name} is not a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise _refused(f"the token's {name} is out of range") from error


def _refused(reason: str) -> AuthenticationFailed:
    return AuthenticationFailed(f"federated token refused: {reason}")
