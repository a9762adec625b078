"""Where raw settings come from: the TOML file ``DOCKIT_CONFIG`` names, ``DOCKIT_*``
environment variables, and secret files (``<VAR>_FILE``, or ``<name>_file`` in TOML). Each
returns parsed values by :class:`~.config.Settings` attribute; a bad value or an unknown key
raises :class:`ConfigError` naming the dotted key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from libdockit.errors import ConfigError

from . import config_values as kinds
from .config_fields import FIELDS, KNOWN

#: Dotted prefixes that are tables below a section, e.g. ``ldap.user_search``.
_SUBTABLES = {
    ".".join(field.key.split(".")[:depth])
    for field in FIELDS
    for depth in range(2, len(field.key.split(".")))
}


def from_toml(path: Path) -> dict[str, Any]:
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


def _read_table(prefix: str, table: dict[str, Any], values: dict[str, Any]) -> None:
    for name, raw in table.items():
        key = f"{prefix}.{name}"
        if key in _SUBTABLES:
            if not isinstance(raw, dict):
                raise ConfigError(key, f"must be a table, e.g. [{key}]")
            _read_table(key, raw, values)
            continue
        field = KNOWN.get(key) or KNOWN.get(key.removesuffix("_file"))
        if field is None:
            raise ConfigError(key, "is not a known setting")
        value = raw
        if key.endswith("_file") and key not in KNOWN:
            if not field.secret:
                raise ConfigError(key, "is not a known setting")
            value = _read_secret_file(key, kinds.path(key, raw))
        values[field.attribute] = field.parse(field.key, value)


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in FIELDS:
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
