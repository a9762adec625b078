"""Federated logins: a trust policy's name as the user name, the workload's OIDC token as
the password (``docker login -u POLICY --password-stdin <<< "$ID_TOKEN"``).

:class:`Federation` holds the trust policies and one key source per issuer: policies that
name the same issuer share its cached keys, and an issuer that cannot be reached raises
:class:`~libdockit.errors.BackendUnavailable` for its own policies only. A policy with a
static JWKS never fetches. :meth:`Federation.login` verifies the token, matches the claims
and returns what the token service needs: who (the policy, ``sub``, ``jti``), the grants,
and the access-token lifetime; :mod:`.exchange` turns that into a delegated login.
"""

from __future__ import annotations

import binascii
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from ..clock import Clock, utc_now
from ..errors import AuthenticationFailed, ConfigError
from ..secret import Secret
from .jwks import Fetch, KeySource, RemoteKeys, StaticKeys, fetch_url
from .matching import PolicyMatch, match_policy
from .trust import TrustPolicy
from .verifier import FederatedToken, FederatedTokenVerifier

__all__ = ["FederatedLogin", "Federation", "IssuerKeys", "looks_like_jwt"]


def looks_like_jwt(password: str) -> bool:
    """Whether ``password`` has a JWS's shape (three base64url parts, a JSON header with
    ``alg``): cheap, so a login can tell a token from a password before checking either."""
    parts = password.split(".")
    if len(parts) != 3 or not parts[0] or len(parts[0]) > 4096:
        return False
    try:
        header = json.loads(binascii.a2b_base64(_padded(parts[0])))
    except (ValueError, binascii.Error):
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str)


def _padded(segment: str) -> bytes:
    return segment.translate(str.maketrans("-_", "+/")).encode("ascii") + b"=" * (-len(segment) % 4)


@dataclass(frozen=True, slots=True)
class FederatedLogin:
    """A federated login that passed: the verified token, what its claims get, and the
    longest access token it may be given (seconds)."""

    token: FederatedToken
    match: PolicyMatch
    token_lifetime: int


class IssuerKeys:
    """One :class:`~.jwks.RemoteKeys` per issuer URL, shared by every policy that names it
    and kept when the policies are reloaded, so a reload neither refetches keys nor forgets
    the ones that keep an unreachable issuer's tokens working."""

    def __init__(
        self,
        *,
        fetch: Fetch = fetch_url,
        clock: Clock = utc_now,
        max_age: timedelta = timedelta(hours=1),
        min_refetch_interval: timedelta = timedelta(seconds=30),
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._max_age = max_age
        self._min_refetch = min_refetch_interval
        self._issuers: dict[str, RemoteKeys] = {}
        self._lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        return self._clock

    def of(self, issuer: str) -> RemoteKeys:
        """The (cached) keys of ``issuer``."""
        with self._lock:
            keys = self._issuers.get(issuer)
            if keys is None:
                keys = RemoteKeys(
                    issuer,
                    fetch=self._fetch,
                    clock=self._clock,
                    max_age=self._max_age,
                    min_refetch_interval=self._min_refetch,
                )
                self._issuers[issuer] = keys
            return keys

    def keep_only(self, issuers: Iterable[str]) -> None:
        """Forget the issuers no policy names any more."""
        wanted = set(issuers)
        with self._lock:
            for issuer in [i for i in self._issuers if i not in wanted]:
                del self._issuers[issuer]


class Federation:
    """The trust policies, by name, and their issuers' keys (see the module docs).

    ``issuers``: the issuers' key caches to use (and keep), e.g. across reloads of the
    policies; by default a new one, made with ``fetch``, ``clock``, ``key_max_age`` and
    ``min_refetch_interval``.
    """

    def __init__(
        self,
        policies: Sequence[TrustPolicy],
        *,
        fetch: Fetch = fetch_url,
        clock: Clock = utc_now,
        key_max_age: timedelta = timedelta(hours=1),
        min_refetch_interval: timedelta = timedelta(seconds=30),
        issuers: IssuerKeys | None = None,
    ) -> None:
        if issuers is None:
            issuers = IssuerKeys(
                fetch=fetch,
                clock=clock,
                max_age=key_max_age,
                min_refetch_interval=min_refetch_interval,
            )
        self._verifiers: dict[str, FederatedTokenVerifier] = {}
        for index, policy in enumerate(policies):
            if policy.name in self._verifiers:
                raise ConfigError(f"federation.policies[{index}].name", f"{policy.name!r} twice")
            keys: KeySource
            if policy.static_jwks is not None:
                keys = StaticKeys(policy.static_jwks)
            else:
                keys = issuers.of(policy.issuer)
            self._verifiers[policy.name] = FederatedTokenVerifier(policy, keys, clock=issuers.clock)

    def current(self) -> Federation:
        """Itself: a fixed set of policies is its own :class:`FederationSource`."""
        return self

    @property
    def policies(self) -> list[TrustPolicy]:
        return [verifier.policy for verifier in self._verifiers.values()]

    def policy(self, name: str) -> TrustPolicy | None:
        verifier = self._verifiers.get(name)
        return verifier.policy if verifier is not None else None

    def verify(self, policy_name: str, token: Secret) -> FederatedToken:
        """``token`` checked under the policy named ``policy_name`` (its claims not matched
        yet); AuthenticationFailed or BackendUnavailable as :meth:`login`."""
        verifier = self._verifiers.get(policy_name)
        if verifier is None:
            raise AuthenticationFailed("federated token refused: no such trust policy")
        return verifier.verify(token.reveal())

    def login(self, policy_name: str, token: Secret) -> FederatedLogin:
        """Verify ``token`` under the policy named ``policy_name`` and match its claims.

        AuthenticationFailed: no such policy, a token that fails a check, or claims that
        meet not every condition (the message says which, never a claim's value).
        BackendUnavailable: the policy's issuer cannot be reached and no keys are cached.
        """
        verifier = self._verifiers.get(policy_name)
        if verifier is None:
            raise AuthenticationFailed("federated token refused: no such trust policy")
        verified = verifier.verify(token.reveal())
        matched = match_policy(verifier.policy, verified.claims)
        if not matched.matched:
            raise AuthenticationFailed(
                "federated token refused: " + "; ".join(matched.reasons()),
                detail={"policy": policy_name, "subject": verified.subject, "jti": verified.jti},
            )
        return FederatedLogin(verified, matched, verifier.policy.max_token_lifetime_seconds)
