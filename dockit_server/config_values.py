"""Parsers for setting values: each takes the dotted key and the raw value (a TOML value or
an environment string) and returns the typed value, or raises ConfigError naming the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from libdockit.backends.ldap.config import UserMatcher
from libdockit.errors import ConfigError
from libdockit.keys.crypt import MIN_SECRET_LENGTH
from libdockit.secret import Secret

from .client_address import parse_networks


def text(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, "must be a non-empty string")
    return value.strip()


def integer(low: int, high: int) -> Callable[[str, object], int]:
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


def boolean(key: str, value: object) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    if isinstance(value, bool):
        return value
    raise ConfigError(key, "must be true or false")


def names(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, "must be a list of names (comma-separated in the environment)")
    return tuple(v for v in value if v)


def strings(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, "must be a list of strings (comma-separated in the environment)")
    return tuple(v.strip() for v in value if v.strip())


def optional_text(key: str, value: object) -> str | None:
    """A string; empty means "none" (e.g. an attribute not to read)."""
    if not isinstance(value, str):
        raise ConfigError(key, "must be a string")
    return value.strip() or None


def seconds(low: float, high: float) -> Callable[[str, object], float]:
    def parse(key: str, value: object) -> float:
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ConfigError(key, f"must be a number of seconds, got {value!r}") from None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(key, "must be a number of seconds")
        if not low <= value <= high:
            raise ConfigError(key, f"must be from {low} to {high} seconds")
        return float(value)

    return parse


def user_matchers(key: str, value: object) -> tuple[UserMatcher, ...]:
    """TOML: ``[{user_attribute = "DN", group_attribute = "member"}, ...]``;
    environment: ``DN:member,uid:memberUid``."""
    if isinstance(value, str):
        pairs = [part.strip().split(":") for part in value.split(",") if part.strip()]
        if not all(len(pair) == 2 for pair in pairs):
            raise ConfigError(key, "must be USER_ATTRIBUTE:GROUP_ATTRIBUTE pairs, e.g. DN:member")
        value = [{"user_attribute": u, "group_attribute": g} for u, g in pairs]
    wanted = {"user_attribute", "group_attribute"}
    if not isinstance(value, list) or not value:
        raise ConfigError(key, "must be a non-empty list of {user_attribute, group_attribute}")
    matchers = []
    for item in value:
        if not isinstance(item, dict) or set(item) != wanted:
            raise ConfigError(key, "each entry needs exactly user_attribute and group_attribute")
        user_attribute, group_attribute = item["user_attribute"], item["group_attribute"]
        if not isinstance(user_attribute, str) or not isinstance(group_attribute, str):
            raise ConfigError(key, "user_attribute and group_attribute must be strings")
        matchers.append(UserMatcher(user_attribute.strip(), group_attribute.strip()))
    return tuple(matchers)


def choice(*options: str) -> Callable[[str, object], str]:
    def parse(key: str, value: object) -> str:
        if value not in options:
            raise ConfigError(key, f"must be one of {', '.join(options)}")
        return str(value)

    return parse


def path(key: str, value: object) -> Path:
    return Path(text(key, value))


def secret(key: str, value: object) -> Secret:
    return Secret(text(key, value))


def key_secret(key: str, value: object) -> Secret:
    value_secret = secret(key, value)
    if len(value_secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            key,
            f"must be at least {MIN_SECRET_LENGTH} characters; "
            "use a random one, e.g. `openssl rand -base64 32`",
        )
    return value_secret


def networks(key: str, value: object) -> tuple[str, ...]:
    """CIDR networks or addresses, checked here (see :mod:`.client_address`)."""
    found = strings(key, value)
    parse_networks(found, key=key)
    return found
