"""Build a working Dockit from a store: the one place that wires the library's parts.

The server, the tests and the examples all call :func:`assemble`, so a new store only has to
implement :class:`~libdockit.backends.base.Store` (the memory and SQL backends do), and a
new part of the token or admin path is wired here once. What users are comes from the
store's local users unless an ``authenticator`` is given (a directory, an authenticator
chain, your own user source); everything else has a default that works (:class:`Options`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

from .admin import AdminService
from .audit import Auditor, Retention
from .backends.base import Authenticator, GrantSource, GroupSource, ReleasesConnection, Store
from .backends.credential_store import AccessCredentialStore
from .backends.local import LocalAuthenticator
from .clock import Clock, utc_now
from .credcache import VerifiedCredentials
from .credential_admin import CredentialAdmin, CredentialLimits
from .credential_checks import DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME, CredentialChecks
from .credential_login import AccessCredentialExchange
from .federation.admin import TrustPolicyAdmin
from .federation.exchange import FederationExchange
from .federation.robots import PolicyRobots
from .federation.stored import FederationOptions, StoredFederation
from .keys.crypt import PLAINTEXT, KeyProtector
from .keys.manager import KeyManager
from .keys.ring import REGISTRY_LEEWAY_SECONDS, KeyRing, KeySource
from .login import CredentialExchange
from .password_policy import PasswordPolicy
from .passwords import PasswordHasher
from .refresh import RefreshTokens, identity_resolver
from .service import TokenService
from .throttle import LoginThrottle, ThrottlePolicy
from .tokens import TokenSigner


@dataclass(frozen=True, slots=True)
class Options:
    """How the assembled Dockit behaves; every field has a working default."""

    #: The ``iss`` of every token (the registry's ``auth.token.issuer``).
    issuer: str = "dockit"
    #: Registry service names tokens may be issued for; empty: any.
    services: Sequence[str] = ()
    #: Ends the message of a token request for another service (e.g. which settings to change).
    unknown_service_hint: str = ""
    #: Access token lifetime in seconds.
    token_lifetime: int = 300
    #: The same claims within one second get the same signed token (see TokenSigner).
    reuse_tokens_within_second: bool = True
    #: Services whose tokens also carry the key id registry 3.x looks JWKS keys up by.
    jwks_audiences: Sequence[str] = ()
    #: Refresh tokens (docker's identity tokens) on, and how long they live (None: forever).
    refresh_tokens: bool = True
    refresh_lifetime: timedelta | None = timedelta(days=90)
    #: Robot accounts and personal access tokens log in (their ``dkt_`` secrets), when the
    #: store keeps them (see :mod:`libdockit.credential_login`).
    access_credentials: bool = True
    #: The longest access token (seconds) a robot or personal token's own lifetime may ask
    #: for; None: no cap. Without one of its own, a credential gets ``token_lifetime``.
    max_credential_token_lifetime: int | None = DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME
    #: Failed-login limits; None turns them off.
    throttle: ThrottlePolicy | None = field(default_factory=ThrottlePolicy)
    #: Keys the throttle's hashes of wrong secrets; instances sharing a store share it.
    throttle_secret_key: bytes | None = None
    #: With the default (local) authenticator: remember a matched password this long.
    password_cache_seconds: float = 60.0
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    #: A directory (e.g. ``"LDAP"``) whose users and groups are grant subjects without a
    #: local row.
    directory: str | None = None
    #: The audit log's retention; None turns the audit log off.
    audit: Retention | None = field(default_factory=Retention)
    #: Record token decisions too (not only admin changes; the token service records them).
    audit_tokens: bool = True
    #: Write audit events from a background thread every this many seconds (0: at once).
    audit_flush_seconds: float = 0.0
    #: The longest robots and personal access tokens may live (None: no cap; "never" allowed).
    credential_limits: CredentialLimits = field(default_factory=CredentialLimits)
    #: How signing keys are encrypted at rest.
    key_protector: KeyProtector = PLAINTEXT
    #: How long a retired key stays in the bundle; None: the longest an access token may
    #: live (``token_lifetime``, or ``max_credential_token_lifetime`` when longer) + 60 s,
    #: the registry's leeway, so no token outlives the key that signed it.
    retired_grace: timedelta | None = None
    #: Keys that come from files (bring your own key) rather than the store.
    key_source: KeySource | None = None
    #: How often a process re-reads the store's signing keys (seconds).
    key_refresh_seconds: float = 5.0
    #: What "now" is, for every part (tests move it).
    clock: Clock = utc_now
    #: Federated logins (trust policies in the store); None turns them off.
    federation: FederationOptions | None = field(default_factory=FederationOptions)


@dataclass(frozen=True, slots=True)
class Instruments:
    """Hooks for whoever watches the service (the server's metrics); all optional."""

    #: Wraps the authenticator and the grant source the token path calls.
    authenticator: Callable[[Authenticator], Authenticator] | None = None
    grants: Callable[[GrantSource], GrantSource] | None = None
    #: The audit writer's backlog and dropped events.
    audit_backlog: Callable[[int], None] | None = None
    audit_dropped: Callable[[int], None] | None = None


@dataclass(frozen=True, slots=True)
class Dockit:
    """The assembled service: what the HTTP layer, the CLI or your code calls."""

    store: Store
    tokens: TokenService
    admin: AdminService
    keys: KeyRing
    key_manager: KeyManager
    auditor: Auditor | None
    #: Robot accounts and personal access tokens.
    credentials: CredentialAdmin
    #: Who users are (before any instrument): the store's local users unless given.
    authenticator: Authenticator
    hasher: PasswordHasher
    #: The store's trust policies as federated logins see them (None: turned off).
    federation: StoredFederation | None = None


def assemble(
    store: Store,
    options: Options | None = None,
    *,
    authenticator: Authenticator | None = None,
    groups: GroupSource | None = None,
    hasher: PasswordHasher | None = None,
    instruments: Instruments | None = None,
    exchanges: Sequence[CredentialExchange] = (),
) -> Dockit:
    """A Dockit on ``store``. ``authenticator`` says who users are (default: the store's
    local users, with argon2id and the verified-credentials cache); ``groups`` who is in
    which group without a password, for ``explain`` (default: the authenticator when it can
    tell, else the store); ``exchanges`` log in with credentials other than passwords (see
    :mod:`libdockit.delegation`), tried in order before a password, after the store's robot
    accounts and personal access tokens (:attr:`Options.access_credentials`); then federated
    logins under the store's trust policies, unless ``options.federation`` is None."""
    options = options or Options()
    instruments = instruments or Instruments()
    hasher = hasher or PasswordHasher()
    if authenticator is None:
        authenticator = _local_users(store, hasher, options)
    if groups is None:
        groups = authenticator if isinstance(authenticator, GroupSource) else store
    auditor = _auditor(store, options, instruments)
    federation = (
        StoredFederation(store, options.federation, clock=options.clock)
        if options.federation is not None
        else None
    )
    robots = _policy_robots(store, authenticator, options)
    if federation is not None:
        exchanges = [
            *exchanges,
            FederationExchange(federation, max_lifetime=options.token_lifetime, robots=robots),
        ]
    keys = KeyRing(
        store,
        clock=options.clock,
        refresh_interval=options.key_refresh_seconds,
        retired_grace=_retired_grace(options),
        protector=options.key_protector,
        source=options.key_source,
    )
    tokens = TokenService(
        authenticator=(
            instruments.authenticator(authenticator) if instruments.authenticator else authenticator
        ),
        grants=instruments.grants(store) if instruments.grants else store,
        keys=keys,
        signer=TokenSigner(
            options.issuer,
            lifetime=options.token_lifetime,
            clock=options.clock,
            jwks_audiences=options.jwks_audiences,
            reuse_within_second=options.reuse_tokens_within_second,
        ),
        services=options.services,
        groups=groups,
        refresh_tokens=(
            RefreshTokens(
                store,
                identity_resolver(authenticator, store),
                lifetime=options.refresh_lifetime,
                clock=options.clock,
            )
            if options.refresh_tokens
            else None
        ),
        throttle=_throttle(store, options, auditor),
        audit=auditor,
        unknown_service_hint=options.unknown_service_hint,
        while_waiting=_while_waiting(store),
        exchanges=(*_access_credentials(store, authenticator, options), *exchanges),
    )
    admin = AdminService(
        store,
        store,
        hasher,
        directory=options.directory,
        password_policy=options.password_policy,
        audit=auditor,
        trust_policies=TrustPolicyAdmin(store, audit=auditor, federation=federation, robots=robots),
    )
    return Dockit(
        store=store,
        tokens=tokens,
        admin=admin,
        keys=keys,
        key_manager=KeyManager(
            store, clock=options.clock, protector=options.key_protector, audit=auditor
        ),
        auditor=auditor,
        credentials=CredentialAdmin(
            store,
            limits=options.credential_limits,
            directory=options.directory,
            audit=auditor,
            clock=options.clock,
            max_token_lifetime=options.max_credential_token_lifetime,
        ),
        authenticator=authenticator,
        hasher=hasher,
        federation=federation,
    )


def _access_credentials(
    store: Store, authenticator: Authenticator, options: Options
) -> tuple[CredentialExchange, ...]:
    if not options.access_credentials or not isinstance(store, AccessCredentialStore):
        return ()
    exchange = AccessCredentialExchange(
        store,
        identity_resolver(authenticator, store),
        store,
        max_token_lifetime=options.max_credential_token_lifetime,
        clock=options.clock,
    )
    return (exchange,)


def _policy_robots(
    store: Store, authenticator: Authenticator, options: Options
) -> PolicyRobots | None:
    """The robot accounts trust policies may name: the store's, judged as their own logins
    are (whether or not their secrets may log in, ``options.access_credentials``)."""
    if not isinstance(store, AccessCredentialStore):
        return None
    checks = CredentialChecks(
        identity_resolver(authenticator, store),
        store,
        max_token_lifetime=options.max_credential_token_lifetime,
    )
    return PolicyRobots(store, store, checks, clock=options.clock)


def _retired_grace(options: Options) -> timedelta:
    if options.retired_grace is not None:
        return options.retired_grace
    longest = max(options.token_lifetime, options.max_credential_token_lifetime or 0)
    return timedelta(seconds=longest + REGISTRY_LEEWAY_SECONDS)


def _local_users(store: Store, hasher: PasswordHasher, options: Options) -> Authenticator:
    verified = (
        VerifiedCredentials(ttl_seconds=options.password_cache_seconds)
        if options.password_cache_seconds > 0
        else None
    )
    return LocalAuthenticator(store, hasher, verified=verified)


def _auditor(store: Store, options: Options, instruments: Instruments) -> Auditor | None:
    if options.audit is None:
        return None
    return Auditor(
        store,
        retention=options.audit,
        record_tokens=options.audit_tokens,
        flush_seconds=options.audit_flush_seconds,
        on_backlog=instruments.audit_backlog,
        on_dropped=instruments.audit_dropped,
        clock=options.clock,
    )


def _while_waiting(store: Store) -> Callable[[], AbstractContextManager[object]]:
    """What a login enters while it waits for another's check: a store that holds a
    connection per request (the SQL backend) gives it back meanwhile, so waiting logins
    cannot use up its pool."""
    if isinstance(store, ReleasesConnection):
        return store.connection_released
    return nullcontext


def _throttle(store: Store, options: Options, auditor: Auditor | None) -> LoginThrottle | None:
    if options.throttle is None:
        return None
    return LoginThrottle(
        store,
        options.throttle,
        clock=options.clock,
        on_lockout=auditor.lockout if auditor is not None else None,
        secret_key=options.throttle_secret_key,
        while_waiting=_while_waiting(store),
    )
