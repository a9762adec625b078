"""Server settings: defaults, then a TOML file (``DOCKIT_CONFIG``), then ``DOCKIT_*`` env.

Every setting has a dotted key (its place in the TOML file) and an environment variable.
Secrets may instead come from a file named by ``<VAR>_FILE`` (e.g. Docker/Kubernetes
secrets). A bad value raises :class:`ConfigError` naming the dotted key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libdockit.errors import ConfigError
from libdockit.secret import Secret


def _text(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, "must be a non-empty string")
    return value.strip()


def _integer(low: int, high: int) -> Callable[[str, object], int]:
    def parse(key: str, value: object) -> int:
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ConfigError(key, f"must be a whole number, got {value!r}") from None
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(key, f"must be a whole number from {low} to {high}")
        return value

    return parse


def _boolean(key: str, value: object) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    if isinstance(value, bool):
        return value
    raise ConfigError(key, "must be true or false")


def _names(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, "must be a list of names (comma-separated in the environment)")
    return tuple(v for v in value if v)


def _choice(*options: str) -> Callable[[str, object], str]:
    def parse(key: str, value: object) -> str:
        if value not in options:
            raise ConfigError(key, f"must be one of {', '.join(options)}")
        return str(value)

    return parse


def _path(key: str, value: object) -> Path:
    return Path(_text(key, value))


def _secret(key: str, value: object) -> Secret:
    return Secret(_text(key, value))


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
    _Field("server.bind", "DOCKIT_BIND", _text),
    _Field("server.workers", "DOCKIT_WORKERS", _integer(1, 64)),
    _Field("server.realm", "DOCKIT_REALM", _text),
    _Field("server.log_level", "DOCKIT_LOG_LEVEL", _choice("debug", "info", "warning", "error")),
    _Field("server.json_logs", "DOCKIT_JSON_LOGS", _boolean),
    _Field("server.metrics", "DOCKIT_METRICS", _boolean),
    _Field("database.url", "DOCKIT_DATABASE_URL", _secret, secret=True),
    _Field("token.issuer", "DOCKIT_ISSUER", _text),
    _Field("token.services", "DOCKIT_SERVICES", _names),
    _Field("token.lifetime", "DOCKIT_TOKEN_LIFETIME", _integer(60, 86400)),
    _Field("keys.algorithm", "DOCKIT_KEY_ALGORITHM", _choice("ES256", "RS256")),
    _Field("keys.validity_days", "DOCKIT_KEY_VALIDITY_DAYS", _integer(1, 3650)),
    _Field("keys.key_file", "DOCKIT_KEY_FILE", _path),
    _Field("keys.cert_file", "DOCKIT_CERT_FILE", _path),
    _Field("admin.username", "DOCKIT_ADMIN_USERNAME", _text),
    _Field("admin.password", "DOCKIT_ADMIN_PASSWORD", _secret, secret=True),
)


@dataclass(frozen=True, slots=True)
class Settings:
    server_bind: str = "127.0.0.1:4315"
    server_workers: int = 2
    server_realm: str = "dockit"
    server_log_level: str = "info"
    server_json_logs: bool = False
    server_metrics: bool = True
    database_url: Secret = Secret("sqlite:///dockit.db")  # noqa: RUF009 - immutable
    token_issuer: str = "dockit"  # noqa: S105 - the JWT issuer name
    token_services: tuple[str, ...] = ()
    token_lifetime: int = 300
    keys_algorithm: str = "ES256"
    keys_validity_days: int = 365
    keys_key_file: Path | None = None
    keys_cert_file: Path | None = None
    admin_username: str = "admin"
    admin_password: Secret | None = None

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
        known = {field.key: field for field in _FIELDS}
        for key, raw in (overrides or {}).items():
            if raw is not None:
                values[known[key].attribute] = known[key].parse(key, raw)
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


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("DOCKIT_CONFIG", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("DOCKIT_CONFIG", f"{path} is not valid TOML: {exc}") from None
    known = {field.key: field for field in _FIELDS}
    values: dict[str, Any] = {}
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table, e.g. [server]")
        for name, raw in table.items():
            key = f"{section}.{name}"
            field = known.get(key) or known.get(key.removesuffix("_file"))
            if field is None:
                raise ConfigError(key, "is not a known setting")
            value = raw
            if key.endswith("_file") and key not in known:
                if not field.secret:
                    raise ConfigError(key, "is not a known setting")
                value = _read_secret_file(key, _path(key, raw))
            values[field.attribute] = field.parse(field.key, value)
    return values


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
