"""Server settings: defaults, then a TOML file (``DOCKIT_CONFIG``), then ``DOCKIT_*`` env.

Every setting has a dotted key (its place in the TOML file) and an environment variable.
Secrets may instead come from a file named by ``<VAR>_FILE`` (e.g. Docker/Kubernetes
secrets). A bad value raises :class:`ConfigError` naming the dotted key.

Keys may nest: ``ldap.user_search.base_dn`` is ``base_dn`` in the TOML table
``[ldap.user_search]`` and ``DOCKIT_LDAP_USER_SEARCH_BASE_DN`` in the environment. LDAP is on
when ``ldap.urls`` is set; :attr:`Settings.ldap` is then the checked
:class:`~libdockit.backends.ldap.config.LdapConfig`.

The names and parsers of the settings are in :mod:`.config_fields`, the reading of the file
and the environment in :mod:`.config_sources`; here are their defaults and the checks that
span several settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libdockit.backends.ldap.config import (
    DEFAULT_GROUP_FILTER,
    DEFAULT_USER_FILTER,
    GroupSearch,
    LdapConfig,
    Scope,
    UserMatcher,
    UserSearch,
)
from libdockit.errors import ConfigError
from libdockit.password_policy import DEFAULT_MIN_LENGTH, PasswordPolicy
from libdockit.secret import Secret

from .config_fields import KNOWN, LDAP_FIELDS
from .config_sources import from_env, from_toml


@dataclass(frozen=True, slots=True)
class Settings:
    server_bind: str = "127.0.0.1:4315"
    server_workers: int = 2
    server_realm: str = "dockit"
    server_log_level: str = "info"
    server_json_logs: bool = False
    server_metrics: bool = True
    #: Serve HTTPS with this certificate (chain) and key, both PEM; both or neither.
    server_tls_cert_file: Path | None = None
    server_tls_key_file: Path | None = None
    #: Seconds a connection may wait for a request to start, and a request to arrive
    #: (TLS handshake, head and body); then the connection is cut (see read_deadline).
    server_read_timeout: int = 10
    database_url: Secret = Secret("sqlite:///dockit.db")  # noqa: RUF009 - immutable
    #: At start, keep retrying an unreachable database (with backoff) this long; 0: fail fast.
    database_wait_seconds: float = 0.0
    #: The most one call waits for the database (PostgreSQL's answers, SQLite's write lock).
    database_timeout: float = 5.0
    token_issuer: str = "dockit"  # noqa: S105 - the JWT issuer name
    token_services: tuple[str, ...] = ()
    #: Services whose registry (3.x) trusts Dockit through a JWKS alone: no x5c in their tokens.
    token_jwks_services: tuple[str, ...] = ()
    token_lifetime: int = 300
    #: Identical token requests within one second get the same signed token (see README).
    token_reuse_within_second: bool = True
    #: The longest access token a robot's or personal token's own lifetime may ask for.
    token_max_credential_lifetime: int = 3600
    #: Refresh tokens (docker's identity tokens) expire after this many days; 0: never.
    token_refresh_lifetime_days: int = 90
    #: The longest a robot account may live from when it is made or rotated; 0: no cap, and
    #: robots that never expire are allowed.
    robots_max_expiry_days: int = 365
    #: Likewise for personal access tokens (one made without an expiry gets this).
    personal_tokens_max_expiry_days: int = 90
    keys_algorithm: str = "ES256"
    keys_validity_days: int = 365
    keys_key_file: Path | None = None
    keys_cert_file: Path | None = None
    #: Encrypts private keys at rest (see libdockit.keys.crypt); None stores them unencrypted.
    keys_encryption_secret: Secret | None = None
    #: How long a retired key stays published; None: token.lifetime + 60 s (the safe value).
    keys_retired_grace_seconds: int | None = None
    #: /readyz warns when a signing certificate expires within this many days (0: never).
    keys_expiry_warning_days: int = 30
    admin_username: str = "admin"
    admin_password: Secret | None = None
    #: How long a password that matched skips the slow hash (0: never).
    passwords_cache_seconds: int = 60
    #: New passwords (Admin API, CLI, bootstrap-admin, the first admin): at least this long,
    passwords_min_length: int = DEFAULT_MIN_LENGTH
    #: ... and not one of the most common passwords (see libdockit.password_policy).
    passwords_refuse_common: bool = True
    audit_enabled: bool = True
    audit_tokens: bool = True
    #: Token events: 0 keeps them forever; likewise max_events 0 is no bound.
    audit_retention_days: int = 90
    audit_max_events: int = 1_000_000
    #: Admin events have bounds of their own (token traffic never pushes them out).
    audit_admin_retention_days: int = 365
    audit_admin_max_events: int = 0
    #: Token decisions are written in batches this often (0: each before its response).
    audit_flush_seconds: float = 1.0
    #: Networks of reverse proxies whose X-Forwarded-For is believed (see client_address).
    server_trusted_proxies: tuple[str, ...] = ()
    #: Failed logins (per user, per client) before backoff starts; 0 turns the limit off.
    logins_max_failures: int = 5
    logins_window_seconds: int = 900
    logins_max_backoff_seconds: int = 900
    #: The first block; each further failure in the window doubles it up to the max.
    logins_first_backoff_seconds: int = 1
    #: A wrong password sent again for the same user and client this soon counts once.
    logins_repeat_seconds: int = 60
    #: Federated logins: trust policies' tokens as passwords (see libdockit.federation).
    federation_enabled: bool = True
    #: Issuers' keys are trusted this long without a refetch (and outlive an outage as long).
    federation_jwks_max_age_seconds: int = 3600
    #: A token with an unknown kid refetches its issuer's keys at most this often.
    federation_jwks_refetch_seconds: int = 30
    #: How long fetching a discovery document or JWKS may take.
    federation_fetch_timeout: float = 5.0
    # [ldap]: see libdockit.backends.ldap.config for what each one means.
    ldap_urls: tuple[str, ...] = ()
    ldap_start_tls: bool = False
    ldap_ca_file: Path | None = None
    ldap_client_cert_file: Path | None = None
    ldap_client_key_file: Path | None = None
    ldap_connect_timeout: float = 5.0
    ldap_receive_timeout: int = 10
    #: The most one call waits for the directory in all (every URL, search and bind).
    ldap_timeout: float = 10.0
    #: Directory calls of one worker process at once (the rest wait, within ldap_timeout).
    ldap_max_concurrent: int = 8
    ldap_bind_dn: str | None = None
    ldap_bind_password: Secret | None = None
    ldap_admin_group: str | None = None
    ldap_group_cache_seconds: int = 60
    #: A password the directory accepted is taken without asking it again this long (0: off).
    ldap_password_cache_seconds: int = 60
    #: A local user of the same name shadows the directory user (see backends.chain).
    ldap_local_users_shadow_ldap: bool = False
    #: /readyz answers 503 while the directory is down (default: reported, not required).
    ldap_ready_requires_directory: bool = False
    ldap_user_search_base_dn: str | None = None
    ldap_user_search_filter: str = DEFAULT_USER_FILTER
    ldap_user_search_username_attributes: tuple[str, ...] = ("uid",)
    ldap_user_search_scope: str = "sub"
    ldap_user_search_display_name_attribute: str | None = "displayName"
    ldap_user_search_email_attribute: str | None = "mail"
    ldap_group_search_base_dn: str | None = None
    ldap_group_search_filter: str = DEFAULT_GROUP_FILTER
    ldap_group_search_scope: str = "sub"
    ldap_group_search_user_matchers: tuple[UserMatcher, ...] = (UserMatcher("DN", "member"),)
    ldap_group_search_name_attribute: str = "cn"
    ldap_group_search_member_of_attribute: str | None = None
    ldap_group_search_nested: bool = False
    ldap_group_search_max_depth: int = 5

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> Settings:
        """Defaults, then the TOML file named by DOCKIT_CONFIG, then the environment, then
        ``overrides`` (dotted key → raw value, e.g. from command-line flags; None is unset).
        Every source goes through the same checks."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_path = env.get("DOCKIT_CONFIG")
        if config_path:
            values.update(from_toml(Path(config_path)))
        values.update(from_env(env))
        for key, raw in (overrides or {}).items():
            if raw is not None:
                values[KNOWN[key].attribute] = KNOWN[key].parse(key, raw)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if (self.keys_key_file is None) != (self.keys_cert_file is None):
            raise ConfigError("keys.key_file", "keys.key_file and keys.cert_file go together")
        host, _, port = self.server_bind.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("server.bind", "must be HOST:PORT, e.g. 127.0.0.1:4315")
        url = self.database_url.reveal()
        if not url.startswith(("sqlite:///", "postgres://", "postgresql://")):
            raise ConfigError(
                "database.url", "must start with sqlite:///, postgres:// or postgresql://"
            )
        if (self.server_tls_cert_file is None) != (self.server_tls_key_file is None):
            raise ConfigError(
                "server.tls_cert_file", "server.tls_cert_file and server.tls_key_file go together"
            )
        unserved = [name for name in self.token_jwks_services if name not in self.token_services]
        if self.token_services and unserved:
            raise ConfigError(
                "token.jwks_services", f"{', '.join(unserved)} is not one of token.services"
            )
        self._check_ldap()

    def _check_ldap(self) -> None:
        if self.ldap_urls:
            self.ldap  # noqa: B018 - builds and checks the LDAP settings
            return
        defaults = Settings()
        for field in LDAP_FIELDS:
            if getattr(self, field.attribute) != getattr(defaults, field.attribute):
                raise ConfigError("ldap.urls", f"is required when {field.key} is set")

    @property
    def password_policy(self) -> PasswordPolicy:
        return PasswordPolicy(self.passwords_min_length, self.passwords_refuse_common)

    @property
    def ldap(self) -> LdapConfig | None:
        """The checked LDAP settings, or None when LDAP is off (no ``ldap.urls``)."""
        if not self.ldap_urls:
            return None
        if self.ldap_user_search_base_dn is None:
            raise ConfigError("ldap.user_search.base_dn", "is required with ldap.urls")
        # Each scope was checked by its parser; the Literal type needs the narrowing.
        user_scope: Scope = "one" if self.ldap_user_search_scope == "one" else "sub"
        group_scope: Scope = "one" if self.ldap_group_search_scope == "one" else "sub"
        return LdapConfig(
            urls=self.ldap_urls,
            start_tls=self.ldap_start_tls,
            ca_file=self.ldap_ca_file,
            client_cert_file=self.ldap_client_cert_file,
            client_key_file=self.ldap_client_key_file,
            connect_timeout=self.ldap_connect_timeout,
            receive_timeout=self.ldap_receive_timeout,
            timeout=self.ldap_timeout,
            max_concurrent=self.ldap_max_concurrent,
            bind_dn=self.ldap_bind_dn,
            bind_password=self.ldap_bind_password,
            admin_group=self.ldap_admin_group,
            group_cache_seconds=self.ldap_group_cache_seconds,
            password_cache_seconds=self.ldap_password_cache_seconds,
            user_search=UserSearch(
                base_dn=self.ldap_user_search_base_dn,
                filter=self.ldap_user_search_filter,
                username_attributes=self.ldap_user_search_username_attributes,
                scope=user_scope,
                display_name_attribute=self.ldap_user_search_display_name_attribute,
                email_attribute=self.ldap_user_search_email_attribute,
            ),
            group_search=GroupSearch(
                base_dn=self.ldap_group_search_base_dn,
                filter=self.ldap_group_search_filter,
                scope=group_scope,
                user_matchers=self.ldap_group_search_user_matchers,
                name_attribute=self.ldap_group_search_name_attribute,
                member_of_attribute=self.ldap_group_search_member_of_attribute,
                nested=self.ldap_group_search_nested,
                max_depth=self.ldap_group_search_max_depth,
            ),
        ).check()
