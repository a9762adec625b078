"""Every setting's names and parser, in one table: its dotted key (its place in the TOML
file, ``ldap.user_search.base_dn`` is ``base_dn`` in ``[ldap.user_search]``), its environment
variable, the parser of its raw value (:mod:`.config_values`) and whether it is a secret (which
may also come from a file). :class:`~.config.Settings` has one attribute per setting, named
by the key with dots made underscores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from libdockit.backends.ldap.config import (
    MAX_NESTING_DEPTH,
    MAX_PASSWORD_CACHE_SECONDS,
    MAX_TIMEOUT,
)

from . import config_values as kinds


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    env: str
    parse: Callable[[str, object], Any]
    secret: bool = False

    @property
    def attribute(self) -> str:
        return self.key.replace(".", "_")


_GENERAL_FIELDS: tuple[Field, ...] = (
    Field("server.bind", "DOCKIT_BIND", kinds.text),
    Field("server.workers", "DOCKIT_WORKERS", kinds.integer(1, 64)),
    Field("server.realm", "DOCKIT_REALM", kinds.text),
    Field(
        "server.log_level", "DOCKIT_LOG_LEVEL", kinds.choice("debug", "info", "warning", "error")
    ),
    Field("server.json_logs", "DOCKIT_JSON_LOGS", kinds.boolean),
    Field("server.metrics", "DOCKIT_METRICS", kinds.boolean),
    Field("server.tls_cert_file", "DOCKIT_TLS_CERT_FILE", kinds.path),
    Field("server.tls_key_file", "DOCKIT_TLS_KEY_FILE", kinds.path),
    Field("server.read_timeout", "DOCKIT_READ_TIMEOUT", kinds.integer(1, 300)),
    Field("database.url", "DOCKIT_DATABASE_URL", kinds.secret, secret=True),
    Field("database.wait_seconds", "DOCKIT_DATABASE_WAIT_SECONDS", kinds.seconds(0, 3600)),
    Field("database.timeout", "DOCKIT_DATABASE_TIMEOUT", kinds.seconds(0.1, 20)),
    Field("token.issuer", "DOCKIT_ISSUER", kinds.text),
    Field("token.services", "DOCKIT_SERVICES", kinds.names),
    Field("token.jwks_services", "DOCKIT_JWKS_SERVICES", kinds.names),
    Field("token.lifetime", "DOCKIT_TOKEN_LIFETIME", kinds.integer(60, 86400)),
    Field("token.reuse_within_second", "DOCKIT_TOKEN_REUSE_WITHIN_SECOND", kinds.boolean),
    Field(
        "token.max_credential_lifetime",
        "DOCKIT_MAX_CREDENTIAL_TOKEN_LIFETIME",
        kinds.integer(60, 86400),
    ),
    Field(
        "token.refresh_lifetime_days", "DOCKIT_REFRESH_TOKEN_LIFETIME_DAYS", kinds.integer(0, 3650)
    ),
    Field("robots.max_expiry_days", "DOCKIT_ROBOT_MAX_EXPIRY_DAYS", kinds.integer(0, 36500)),
    Field(
        "personal_tokens.max_expiry_days",
        "DOCKIT_PERSONAL_TOKEN_MAX_EXPIRY_DAYS",
        kinds.integer(0, 36500),
    ),
    Field("keys.algorithm", "DOCKIT_KEY_ALGORITHM", kinds.choice("ES256", "RS256")),
    Field("keys.validity_days", "DOCKIT_KEY_VALIDITY_DAYS", kinds.integer(1, 3650)),
    Field("keys.key_file", "DOCKIT_KEY_FILE", kinds.path),
    Field("keys.cert_file", "DOCKIT_CERT_FILE", kinds.path),
    Field("keys.encryption_secret", "DOCKIT_KEY_ENCRYPTION_SECRET", kinds.key_secret, secret=True),
    Field(
        "keys.retired_grace_seconds",
        "DOCKIT_KEY_RETIRED_GRACE_SECONDS",
        kinds.integer(10, 7776000),
    ),
    Field("keys.expiry_warning_days", "DOCKIT_KEY_EXPIRY_WARNING_DAYS", kinds.integer(0, 3650)),
    Field("admin.username", "DOCKIT_ADMIN_USERNAME", kinds.text),
    Field("admin.password", "DOCKIT_ADMIN_PASSWORD", kinds.secret, secret=True),
    Field("passwords.cache_seconds", "DOCKIT_PASSWORD_CACHE_SECONDS", kinds.integer(0, 3600)),
    Field("passwords.min_length", "DOCKIT_PASSWORD_MIN_LENGTH", kinds.integer(1, 1024)),
    Field("passwords.refuse_common", "DOCKIT_PASSWORD_REFUSE_COMMON", kinds.boolean),
    Field("audit.enabled", "DOCKIT_AUDIT", kinds.boolean),
    Field("audit.tokens", "DOCKIT_AUDIT_TOKENS", kinds.boolean),
    Field("audit.retention_days", "DOCKIT_AUDIT_RETENTION_DAYS", kinds.integer(0, 36500)),
    Field("audit.max_events", "DOCKIT_AUDIT_MAX_EVENTS", kinds.integer(0, 10**12)),
    Field(
        "audit.admin_retention_days", "DOCKIT_AUDIT_ADMIN_RETENTION_DAYS", kinds.integer(0, 36500)
    ),
    Field("audit.admin_max_events", "DOCKIT_AUDIT_ADMIN_MAX_EVENTS", kinds.integer(0, 10**12)),
    Field("audit.flush_seconds", "DOCKIT_AUDIT_FLUSH_SECONDS", kinds.seconds(0, 60)),
    Field("server.trusted_proxies", "DOCKIT_TRUSTED_PROXIES", kinds.networks),
    Field("logins.max_failures", "DOCKIT_LOGIN_MAX_FAILURES", kinds.integer(0, 10**6)),
    Field("logins.window_seconds", "DOCKIT_LOGIN_WINDOW_SECONDS", kinds.integer(1, 86400)),
    Field(
        "logins.max_backoff_seconds", "DOCKIT_LOGIN_MAX_BACKOFF_SECONDS", kinds.integer(1, 86400)
    ),
    Field(
        "logins.first_backoff_seconds",
        "DOCKIT_LOGIN_FIRST_BACKOFF_SECONDS",
        kinds.integer(1, 86400),
    ),
    Field("logins.repeat_seconds", "DOCKIT_LOGIN_REPEAT_SECONDS", kinds.integer(0, 3600)),
)


#: Workload identity federation (trust policies themselves live in the database).
FEDERATION_FIELDS: tuple[Field, ...] = (
    Field("federation.enabled", "DOCKIT_FEDERATION", kinds.boolean),
    Field(
        "federation.jwks_max_age_seconds",
        "DOCKIT_FEDERATION_JWKS_MAX_AGE_SECONDS",
        kinds.integer(60, 86400),
    ),
    Field(
        "federation.jwks_refetch_seconds",
        "DOCKIT_FEDERATION_JWKS_REFETCH_SECONDS",
        kinds.integer(1, 3600),
    ),
    Field("federation.fetch_timeout", "DOCKIT_FEDERATION_FETCH_TIMEOUT", kinds.seconds(0.5, 30)),
)


def _ldap(key: str, parse: Callable[[str, object], Any], *, secret: bool = False) -> Field:
    return Field(f"ldap.{key}", "DOCKIT_LDAP_" + key.upper().replace(".", "_"), parse, secret)


LDAP_FIELDS: tuple[Field, ...] = (
    _ldap("urls", kinds.strings),
    _ldap("start_tls", kinds.boolean),
    _ldap("ca_file", kinds.path),
    _ldap("client_cert_file", kinds.path),
    _ldap("client_key_file", kinds.path),
    _ldap("connect_timeout", kinds.seconds(0.1, 300)),
    _ldap("receive_timeout", kinds.integer(1, 300)),
    _ldap("timeout", kinds.seconds(0.1, MAX_TIMEOUT)),
    _ldap("max_concurrent", kinds.integer(1, 1000)),
    _ldap("bind_dn", kinds.text),
    _ldap("bind_password", kinds.secret, secret=True),
    _ldap("admin_group", kinds.text),
    _ldap("group_cache_seconds", kinds.integer(0, 86400)),
    _ldap("password_cache_seconds", kinds.integer(0, MAX_PASSWORD_CACHE_SECONDS)),
    _ldap("local_users_shadow_ldap", kinds.boolean),
    _ldap("ready_requires_directory", kinds.boolean),
    _ldap("user_search.base_dn", kinds.text),
    _ldap("user_search.filter", kinds.text),
    _ldap("user_search.username_attributes", kinds.strings),
    _ldap("user_search.scope", kinds.choice("sub", "one")),
    _ldap("user_search.display_name_attribute", kinds.optional_text),
    _ldap("user_search.email_attribute", kinds.optional_text),
    _ldap("group_search.base_dn", kinds.text),
    _ldap("group_search.filter", kinds.text),
    _ldap("group_search.scope", kinds.choice("sub", "one")),
    _ldap("group_search.user_matchers", kinds.user_matchers),
    _ldap("group_search.name_attribute", kinds.text),
    _ldap("group_search.member_of_attribute", kinds.optional_text),
    _ldap("group_search.nested", kinds.boolean),
    _ldap("group_search.max_depth", kinds.integer(1, MAX_NESTING_DEPTH)),
)
#: Every setting, in the order ``dockit api-server --help`` lists them.
FIELDS = _GENERAL_FIELDS + FEDERATION_FIELDS + LDAP_FIELDS

#: Every setting by its dotted key.
KNOWN = {field.key: field for field in FIELDS}


@dataclass(frozen=True, slots=True)
class SettingName:
    """How a setting is named: its dotted TOML key and its environment variable; a secret
    may also come from a file (``<VAR>_FILE``, or ``<name>_file`` in TOML)."""

    key: str
    env: str
    secret: bool


def setting_names() -> tuple[SettingName, ...]:
    """Every setting, in declaration order: what ``dockit api-server --help`` lists and what
    the README's configuration tables are checked against."""
    return tuple(SettingName(field.key, field.env, field.secret) for field in FIELDS)
