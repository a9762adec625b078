"""Build the server's collaborators from Settings, and prepare a store before serving.

``prepare`` runs once, in the gunicorn master before workers fork: it migrates the schema,
makes sure a signing key is active and creates the first admin. ``build_components`` runs in
each worker and only opens what it needs.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from libdockit.admin import AdminService
from libdockit.assembly import Instruments, Options, assemble
from libdockit.audit import Actor, Auditor, Retention
from libdockit.backends.base import Authenticator, GroupSource, HealthCheck
from libdockit.backends.chain import ChainAuthenticator
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.sql.backend import SqlBackend
from libdockit.credcache import VerifiedCredentials
from libdockit.credential_admin import CredentialLimits
from libdockit.errors import (
    BackendUnavailable,
    ConfigError,
    Conflict,
    KeyMaterialError,
    ValidationError,
)
from libdockit.federation import FederationOptions, fetch_url
from libdockit.keys.crypt import KeyProtector
from libdockit.keys.material import SigningKey, load_key, to_stored
from libdockit.keys.ring import KeySource, ensure_active_key
from libdockit.passwords import PasswordHasher
from libdockit.refresh import lifetime_from_days
from libdockit.secret import Secret
from libdockit.throttle import ThrottlePolicy

from .client_address import parse_networks
from .components import Components
from .config import Settings
from .instrument import TimedAuthenticator, TimedGrantSource
from .keysetup import (
    key_files,
    key_protector,
    retired_grace,
    secure_database_file,
    secure_stored_keys,
)
from .metrics import Metrics
from .resources.health import NamedCheck, ReadinessChecks, with_certificate_expiry

log = logging.getLogger("dockit.server")

#: Ends the message of a token request for a service not in ``token.services``.
UNKNOWN_SERVICE_HINT = (
    ": the registry sends its auth.token.service (REGISTRY_AUTH_TOKEN_SERVICE); add that name"
    " to Dockit's token.services (DOCKIT_SERVICES), or set the registry's to one of these"
)

#: Who creates the first admin of an empty database, in the audit log.
STARTUP_ACTOR = Actor.system("startup")


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    username: str
    #: Set only when Dockit generated the password; shown once to the operator.
    generated_password: Secret | None


def open_store(settings: Settings) -> SqlBackend:
    timeout = settings.database_timeout
    try:
        return SqlBackend(settings.database_url.reveal(), timeout=timeout, busy_timeout=timeout)
    except ImportError:
        # The optional PostgreSQL driver is missing: a setting to fix, not a traceback.
        raise ConfigError(
            "database.url",
            "PostgreSQL needs the postgres extra, which is not installed: "
            "pip install 'dockit[postgres]' (from a checkout: pip install '.[postgres]')",
        ) from None


def prepare(settings: Settings, *, now: datetime | None = None) -> FirstAdmin | None:
    """Migrate, make sure a key signs, create the first admin; returns that admin if new."""
    moment = now or datetime.now(UTC)
    if settings.ldap is not None:
        _require_ldap_driver()
    _check_tls_files(settings)
    secure_database_file(settings)
    protector = key_protector(settings)
    store = open_store(settings)
    try:
        _wait_for_store(store, settings.database_wait_seconds)
        store.migrate()
        secure_stored_keys(store, protector)
        _ensure_signing_key(store, settings, moment, protector)
        return _ensure_first_admin(store, settings)
    finally:
        store.close()


def _wait_for_store(
    store: SqlBackend, wait_seconds: float, *, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Return once the database answers; retry with backoff for up to ``wait_seconds``
    (``database.wait_seconds``), then raise BackendUnavailable naming ``database.url``."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.25
    while True:
        try:
            store.schema_version()
            return
        except BackendUnavailable as exc:
            if time.monotonic() + delay > deadline:
                hint = "" if wait_seconds > 0 else " (database.wait_seconds waits for it at start)"
                raise BackendUnavailable(f"database.url: {exc.message}{hint}") from None
            log.warning("waiting for the database: %s", exc.message)
        sleep(delay)
        delay = min(delay * 2, 5.0)


def _check_tls_files(settings: Settings) -> None:
    """With HTTPS on, both files must be readable before gunicorn starts."""
    files = {
        "server.tls_cert_file": settings.server_tls_cert_file,
        "server.tls_key_file": settings.server_tls_key_file,
    }
    for key_name, path in files.items():
        if path is None:
            continue
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise ConfigError(key_name, f"cannot read {path}: {exc.strerror}") from None


def _require_ldap_driver() -> None:
    """Fail at start, naming the setting, when LDAP is configured but ldap3 is missing."""
    from libdockit.backends.ldap.backend import require_driver

    try:
        require_driver()
    except ImportError as exc:
        raise ConfigError("ldap.urls", str(exc)) from None


def _authentication(
    settings: Settings, store: SqlBackend, hasher: PasswordHasher
) -> tuple[Authenticator, GroupSource, HealthCheck]:
    """Local users alone, or local users then the directory when LDAP is configured.

    With LDAP, a name that is not a local user costs no dummy verify in the local
    authenticator: the chain spends it once nobody accepted, so a directory login that
    succeeds pays no argon2 at all (see :mod:`libdockit.backends.chain`).
    """
    verified = (
        VerifiedCredentials(ttl_seconds=settings.passwords_cache_seconds)
        if settings.passwords_cache_seconds > 0
        else None
    )
    ldap_config = settings.ldap
    local = LocalAuthenticator(
        store, hasher, verified=verified, equalize_unknown=ldap_config is None
    )
    if ldap_config is None:
        return local, store, store
    from libdockit.backends.ldap.backend import LdapAuthenticator

    # A login waiting on the directory gives its store connection back meanwhile: logins
    # waiting on a hanging directory must not use up the pool local users need.
    directory = LdapAuthenticator(ldap_config, while_waiting=store.connection_released)
    chain = ChainAuthenticator(
        [local, directory],
        local_users=store,
        local_users_shadow=settings.ldap_local_users_shadow_ldap,
        equalize=local.dummy_verify,
    )
    health = ReadinessChecks(
        [
            NamedCheck("store", store),
            NamedCheck("directory", directory, required=settings.ldap_ready_requires_directory),
        ]
    )
    return chain, chain, health


def _ensure_signing_key(
    store: SqlBackend, settings: Settings, now: datetime, protector: KeyProtector
) -> None:
    if settings.keys_key_file is None or settings.keys_cert_file is None:
        ensure_active_key(
            store,
            algorithm="RS256" if settings.keys_algorithm == "RS256" else "ES256",
            now=now,
            validity=timedelta(days=settings.keys_validity_days),
            protector=protector,
        )
        return
    key = _load_key_files(settings)
    if key.not_after <= now:
        raise ConfigError(
            "keys.cert_file", f"the certificate expired at {key.not_after.isoformat()}"
        )
    known = {stored.kid: stored for stored in store.list_keys()}
    if key.kid not in known:
        store.add_key(to_stored(key, "pending", now, protector=protector))
        log.info("loaded signing key %s from %s", key.kid, settings.keys_key_file)
    if known.get(key.kid) is None or known[key.kid].state != "active":
        store.set_key_state(key.kid, "active", now)


def _load_key_files(settings: Settings) -> SigningKey:
    assert settings.keys_key_file is not None
    assert settings.keys_cert_file is not None
    files = {"keys.key_file": settings.keys_key_file, "keys.cert_file": settings.keys_cert_file}
    contents: dict[str, bytes] = {}
    for key_name, path in files.items():
        try:
            contents[key_name] = path.read_bytes()
        except OSError as exc:
            raise ConfigError(key_name, f"cannot read {path}: {exc.strerror}") from None
    try:
        return load_key(contents["keys.key_file"], contents["keys.cert_file"])
    except KeyMaterialError as exc:
        raise ConfigError("keys.key_file", exc.message) from None


def _ensure_first_admin(store: SqlBackend, settings: Settings) -> FirstAdmin | None:
    if store.list_users(limit=1).total > 0:
        return None
    admin = AdminService(
        store,
        store,
        PasswordHasher(),
        password_policy=settings.password_policy,
        audit=one_off_auditor(store, settings),
    )
    generated = None
    password = settings.admin_password
    if password is None:
        generated = password = Secret(secrets.token_urlsafe(18))
    try:
        settings.password_policy.check(password)
    except ValidationError as exc:
        reason = exc.message.removeprefix("password: ")
        raise ConfigError("admin.password", f"(DOCKIT_ADMIN_PASSWORD) {reason}") from None
    try:
        admin.create_user(settings.admin_username, password, is_admin=True, actor=STARTUP_ACTOR)
    except Conflict:
        # Another instance starting on the same empty database created it a moment ago
        # (between the check above and this insert): theirs is the first admin.
        log.info("the first admin %r was created by another instance", settings.admin_username)
        return None
    return FirstAdmin(username=settings.admin_username, generated_password=generated)


def build_components(settings: Settings, *, instance_key: bytes | None = None) -> Components:
    """Everything one worker serves with. ``instance_key``: a random key the gunicorn master
    made for all its workers (see :func:`login_secret_key`)."""
    store = open_store(settings)
    hasher = PasswordHasher()
    protector = key_protector(settings)
    authenticator, groups, health = _authentication(settings, store, hasher)
    metrics = Metrics(services=settings.token_services) if settings.server_metrics else None
    dockit = assemble(
        store,
        _options(settings, protector, key_files(settings, store, protector), instance_key),
        authenticator=authenticator,
        groups=groups,
        hasher=hasher,
        instruments=_instruments(settings, metrics),
    )
    if metrics is not None:
        metrics.watch_certificates(dockit.keys)
        metrics.watch_credentials(dockit.store)
    return Components(
        tokens=dockit.tokens,
        admin=dockit.admin,
        health=with_certificate_expiry(health, dockit.keys, settings.keys_expiry_warning_days),
        key_manager=dockit.key_manager,
        credentials=dockit.credentials,
        realm=settings.server_realm,
        metrics=metrics,
        json_logs=settings.server_json_logs,
        audit=dockit.auditor,
        trusted_proxies=parse_networks(settings.server_trusted_proxies),
        store_connection=store,
    )


def _options(
    settings: Settings,
    protector: KeyProtector,
    source: KeySource | None,
    instance_key: bytes | None,
) -> Options:
    return Options(
        issuer=settings.token_issuer,
        services=settings.token_services,
        unknown_service_hint=UNKNOWN_SERVICE_HINT,
        token_lifetime=settings.token_lifetime,
        reuse_tokens_within_second=settings.token_reuse_within_second,
        max_credential_token_lifetime=settings.token_max_credential_lifetime,
        jwks_audiences=settings.token_jwks_services,
        refresh_lifetime=lifetime_from_days(settings.token_refresh_lifetime_days),
        credential_limits=CredentialLimits(
            robot_max_lifetime=lifetime_from_days(settings.robots_max_expiry_days),
            token_max_lifetime=lifetime_from_days(settings.personal_tokens_max_expiry_days),
        ),
        throttle=_throttle_policy(settings),
        throttle_secret_key=login_secret_key(settings, instance_key),
        password_policy=settings.password_policy,
        # Directory users and groups are real grant subjects without a local row.
        directory="LDAP" if settings.ldap_urls else None,
        audit=_retention(settings) if settings.audit_enabled else None,
        audit_tokens=settings.audit_tokens,
        audit_flush_seconds=settings.audit_flush_seconds,
        key_protector=protector,
        # A retired key stays in the bundle while tokens it signed may still be presented.
        retired_grace=retired_grace(settings),
        key_source=source,
        federation=_federation(settings),
    )


def _federation(settings: Settings) -> FederationOptions | None:
    if not settings.federation_enabled:
        return None
    timeout = settings.federation_fetch_timeout
    return FederationOptions(
        key_max_age=timedelta(seconds=settings.federation_jwks_max_age_seconds),
        min_refetch_interval=timedelta(seconds=settings.federation_jwks_refetch_seconds),
        fetch=functools.partial(fetch_url, timeout=timeout),
    )


def _retention(settings: Settings) -> Retention:
    return Retention(
        days=settings.audit_retention_days or None,
        max_events=settings.audit_max_events or None,
        admin_days=settings.audit_admin_retention_days or None,
        admin_max_events=settings.audit_admin_max_events or None,
    )


def one_off_auditor(store: SqlBackend, settings: Settings) -> Auditor | None:
    """The audit log as ``audit.*`` configures it (None when turned off), for changes made
    outside a serving worker (the first admin, ``dockit bootstrap-admin``): every event is
    written at once, with no writer thread."""
    if not settings.audit_enabled:
        return None
    return Auditor(store, retention=_retention(settings), record_tokens=settings.audit_tokens)


def _instruments(settings: Settings, metrics: Metrics | None) -> Instruments:
    if metrics is None:
        return Instruments()
    kind = "local+ldap" if settings.ldap is not None else "local"
    return Instruments(
        authenticator=lambda inner: TimedAuthenticator(inner, metrics, kind),
        grants=lambda inner: TimedGrantSource(inner, metrics, "sql"),
        audit_backlog=metrics.audit_backlog.set,
        audit_dropped=metrics.audit_dropped.inc,
    )


def login_secret_key(settings: Settings, instance_key: bytes | None) -> bytes:
    """The key of the throttle's hashes of wrong secrets (see :mod:`libdockit.throttle`).

    Derived from ``keys.encryption_secret`` when it is set, so every instance that shares
    the database shares it; else the instance's own random key (one for all its workers),
    never stored: a copy of the database holds nothing to test guesses against offline.
    """
    if settings.keys_encryption_secret is not None:
        secret = settings.keys_encryption_secret.reveal().encode()
        return hmac.new(secret, b"dockit: wrong login secrets", hashlib.sha256).digest()
    return instance_key or secrets.token_bytes(32)


def _throttle_policy(settings: Settings) -> ThrottlePolicy | None:
    """Failed-login limits shared by every worker through the store; None when turned off."""
    if settings.logins_max_failures == 0:
        return None
    return ThrottlePolicy(
        max_failures=settings.logins_max_failures,
        window=timedelta(seconds=settings.logins_window_seconds),
        max_backoff=timedelta(seconds=settings.logins_max_backoff_seconds),
        first_backoff=timedelta(seconds=settings.logins_first_backoff_seconds),
        repeat_window=timedelta(seconds=settings.logins_repeat_seconds),
    )
