"""Server settings: defaults, then a TOML file (``DOCKIT_CONFIG``), then ``DOCKIT_*`` env.

Every setting has a dotted key (its place in the TOML file) and an environment variable.
Secrets may instead come from a file named by ``<VAR>_FILE`` (e.g. Docker/Kubernetes
secrets). A bad value raises :class:`ConfigError` naming the dotted key.

Keys may nest: ``ldap.user_search.base_dn`` is ``base_dn`` in the TOML table
``[ldap.user_search]`` and ``DOCKIT_LDAP_USER_SEARCH_BASE_DN`` in the environment. LDAP is on
when ``ldap.urls`` is set; :attr:`Settings.ldap` is then the checked
:class:`~libdockit.backends.ldap_config.LdapConfig`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libdockit.backends.ldap_config import (
    DEFAULT_GROUP_FILTER,
    DEFAULT_USER_FILTER,
    MAX_NESTING_DEPTH,
    MAX_PASSWORD_CACHE_SECONDS,
    MAX_TIMEOUT,
    GroupSearch,
    LdapConfig,
    Scope,
    UserMatcher,
    UserSearch,
)
from libdockit.errors import ConfigError
from libdockit.password_policy import DEFAULT_MIN_LENGTH, PasswordPolicy
from libdockit.secret import Secret

from . import config_values as kinds


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    env: str
    parse: Callable[[str, object], Any]
    secret: bool = False

    @property
    def attribute(self) -> str:
        return self.key.replace(".", "_")


_FIELDS: tuple[_Field, ...] = (
    _Field("server.bind", "DOCKIT_BIND", kinds.text),
    _Field("server.workers", "DOCKIT_WORKERS", kinds.integer(1, 64)),
    _Field("server.realm", "DOCKIT_REALM", kinds.text),
    _Field(
        "server.log_level", "DOCKIT_LOG_LEVEL", kinds.choice("debug", "info", "warning", "error")
    ),
    _Field("server.json_logs", "DOCKIT_JSON_LOGS", kinds.boolean),
    _Field("server.metrics", "DOCKIT_METRICS", kinds.boolean),
    _Field("server.tls_cert_file", "DOCKIT_TLS_CERT_FILE", kinds.path),
    _Field("server.tls_key_file", "DOCKIT_TLS_KEY_FILE", kinds.path),
    _Field("server.read_timeout", "DOCKIT_READ_TIMEOUT", kinds.integer(1, 300)),
    _Field("database.url", "DOCKIT_DATABASE_URL", kinds.secret, secret=True),
    _Field("database.wait_seconds", "DOCKIT_DATABASE_WAIT_SECONDS", kinds.seconds(0, 3600)),
    _Field("database.timeout", "DOCKIT_DATABASE_TIMEOUT", kinds.seconds(0.1, 20)),
    _Field("token.issuer", "DOCKIT_ISSUER", kinds.text),
    _Field("token.services", "DOCKIT_SERVICES", kinds.names),
    _Field("token.jwks_services", "DOCKIT_JWKS_SERVICES", kinds.names),
    _Field("token.lifetime", "DOCKIT_TOKEN_LIFETIME", kinds.integer(60, 86400)),
    _Field(
        "token.refresh_lifetime_days", "DOCKIT_REFRESH_TOKEN_LIFETIME_DAYS", kinds.integer(0, 3650)
    ),
    _Field("keys.algorithm", "DOCKIT_KEY_ALGORITHM", kinds.choice("ES256", "RS256")),
    _Field("keys.validity_days", "DOCKIT_KEY_VALIDITY_DAYS", kinds.integer(1, 3650)),
    _Field("keys.key_file", "DOCKIT_KEY_FILE", kinds.path),
    _Field("keys.cert_file", "DOCKIT_CERT_FILE", kinds.path),
    _Field("keys.encryption_secret", "DOCKIT_KEY_ENCRYPTION_SECRET", kinds.key_secret, secret=True),
    _Field(
        "keys.retired_grace_seconds",
        "DOCKIT_KEY_RETIRED_GRACE_SECONDS",
        kinds.integer(10, 7776000),
    ),
    _Field("keys.expiry_warning_days", "DOCKIT_KEY_EXPIRY_WARNING_DAYS", kinds.integer(0, 3650)),
    _Field("admin.username", "DOCKIT_ADMIN_USERNAME", kinds.text),
    _Field("admin.password", "DOCKIT_ADMIN_PASSWORD", kinds.secret, secret=True),
    _Field("passwords.cache_seconds", "DOCKIT_PASSWORD_CACHE_SECONDS", kinds.integer(0, 3600)),
    _Field("passwords.min_length", "DOCKIT_PASSWORD_MIN_LENGTH", kinds.integer(1, 1024)),
    _Field("passwords.refuse_common", "DOCKIT_PASSWORD_REFUSE_COMMON", kinds.boolean),
    _Field("audit.enabled", "DOCKIT_AUDIT", kinds.boolean),
    _Field("audit.tokens", "DOCKIT_AUDIT_TOKENS", kinds.boolean),
    _Field("audit.retention_days", "DOCKIT_AUDIT_RETENTION_DAYS", kinds.integer(0, 36500)),
    _Field("audit.max_events", "DOCKIT_AUDIT_MAX_EVENTS", kinds.integer(0, 10**12)),
    _Field(
        "audit.admin_retention_days", "DOCKIT_AUDIT_ADMIN_RETENTION_DAYS", kinds.integer(0, 36500)
    ),
    _Field("audit.admin_max_events", "DOCKIT_AUDIT_ADMIN_MAX_EVENTS", kinds.integer(0, 10**12)),
    _Field("audit.flush_seconds", "DOCKIT_AUDIT_FLUSH_SECONDS", kinds.seconds(0, 60)),
    _Field("server.trusted_proxies", "DOCKIT_TRUSTED_PROXIES", kinds.networks),
    _Field("logins.max_failures", "DOCKIT_LOGIN_MAX_FAILURES", kinds.integer(0, 10**6)),
    _Field("logins.window_seconds", "DOCKIT_LOGIN_WINDOW_SECONDS", kinds.integer(1, 86400)),
    _Field(
        "logins.max_backoff_seconds", "DOCKIT_LOGIN_MAX_BACKOFF_SECONDS", kinds.integer(1, 86400)
    ),
    _Field(
        "logins.first_backoff_seconds",
        "DOCKIT_LOGIN_FIRST_BACKOFF_SECONDS",
        kinds.integer(1, 86400),
    ),
    _Field("logins.repeat_seconds", "DOCKIT_LOGIN_REPEAT_SECONDS", kinds.integer(0, 3600)),
)


def _ldap(key: str, parse: Callable[[str, object], Any], *, secret: bool = False) -> _Field:
    return _Field(f"ldap.{key}", "DOCKIT_LDAP_" + key.upper().replace(".", "_"), parse, secret)


_LDAP_FIELDS: tuple[_Field, ...] = (
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
_FIELDS += _LDAP_FIELDS


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
    #: Refresh tokens (docker's identity tokens) expire after this many days; 0: never.
    token_refresh_lifetime_days: int = 90
    keys_algorithm: str = "ES256"
    keys_validity_days: int = 365
    keys_key_file: Path | None = None
    keys_cert_file: Path | None = None
    #: Encrypts private keys at rest (see libdockit.keycrypt); None stores them unencrypted.
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
    # [ldap]: see libdockit.backends.ldap_config for what each one means.
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
            values.update(_from_toml(Path(config_path)))
        values.update(_from_env(env))
        for key, raw in (overrides or {}).items():
            if raw is not None:
                values[_KNOWN[key].attribute] = _KNOWN[key].parse(key, raw)
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
        for field in _LDAP_FIELDS:
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


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("DOCKIT_CONFIG", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("DOCKIT_CONFIG", f"{path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table, e.g. [server]")
        _read_table(section, table, values)
    return values


_KNOWN = {field.key: field for field in _FIELDS}
#: Dotted prefixes that are tables below a section, e.g. ``ldap.user_search``.
_SUBTABLES = {
    ".".join(field.key.split(".")[:depth])
    for field in _FIELDS
    for depth in range(2, len(field.key.split(".")))
}


def _read_table(prefix: str, table: dict[str, Any], values: dict[str, Any]) -> None:
    for name, raw in table.items():
        key = f"{prefix}.{name}"
        if key in _SUBTABLES:
            if not isinstance(raw, dict):
                raise ConfigError(key, f"must be a table, e.g. [{key}]")
            _read_table(key, raw, values)
            continue
        field = _KNOWN.get(key) or _KNOWN.get(key.removesuffix("_file"))
        if field is None:
            raise ConfigError(key, "is not a known setting")
        value = raw
        if key.endswith("_file") and key not in _KNOWN:
            if not field.secret:
                raise ConfigError(key, "is not a known setting")
            value = _read_secret_file(key, kinds.path(key, raw))
        values[field.attribute] = field.parse(field.key, value)


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in _FIELDS:
        raw: object = env.get(field.env)
        file_var = f"{field.env}_FILE"
        if field.secret and env.get(file_var):
            raw = _read_secret_file(field.key, Path(env[file_var]))
        if raw is not None and raw != "":
            values[field.attribute] = field.parse(field.key, raw)
    return values


def _read_secret_file(key: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(key, f"cannot read secret file {path}: {exc.strerror}") from None


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
    return tuple(SettingName(field.key, field.env, field.secret) for field in _FIELDS)
