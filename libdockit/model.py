"""Plain records passed across the backend protocols, and the rules for names and subjects.

Usernames and group names are normalised (Unicode NFKC, then lower case) before they are
checked, stored or looked up, so ``Alice`` and its full-width form are the same account
and ``${user}`` patterns always expand to a valid lowercase repository path component.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from .errors import ValidationError
from .scope import ALL, DELETE, KNOWN_ACTIONS, PULL, PUSH

ANONYMOUS = "anonymous"
AUTHENTICATED = "authenticated"
USER_PREFIX = "user:"
GROUP_PREFIX = "group:"

MAX_NAME_LENGTH = 64
T = TypeVar("T")
_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9])?")
_RESOURCE_TYPE_RE = re.compile(r"[a-z0-9]+")


def normalize_name(raw: str) -> str:
    """NFKC + lower case: the one canonical form of a user or group name."""
    return unicodedata.normalize("NFKC", raw).lower()


def validate_name(raw: str, *, field_name: str = "name") -> str:
    """Normalise and check a user or group name; raise :class:`ValidationError` if invalid."""
    name = normalize_name(raw)
    if _NAME_RE.fullmatch(name) is None:
        raise ValidationError(
            field_name,
            f"must be 1-{MAX_NAME_LENGTH} characters of a-z, 0-9, '.', '_', '@' or '-', "
            "starting and ending with a letter or digit",
        )
    return name


def parse_subject(raw: str) -> str:
    """Canonical subject: ``user:NAME``, ``group:NAME``, ``anonymous`` or ``authenticated``."""
    if raw in (ANONYMOUS, AUTHENTICATED):
        return raw
    for prefix in (USER_PREFIX, GROUP_PREFIX):
        if raw.startswith(prefix):
            return prefix + validate_name(raw[len(prefix) :], field_name="subject")
    raise ValidationError(
        "subject", "must be user:NAME, group:NAME, 'anonymous' or 'authenticated'"
    )


def validate_resource_type(raw: str) -> str:
    if _RESOURCE_TYPE_RE.fullmatch(raw) is None:
        raise ValidationError("resource_type", "must be lowercase letters and digits")
    return raw


def normalize_actions(raw: object) -> tuple[str, ...]:
    """Check grant actions and return them in canonical order (pull, push, delete, *)."""
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part]
    if not isinstance(raw, list | tuple) or not raw:
        raise ValidationError("actions", "must be a non-empty list of pull, push, delete or *")
    unknown = [a for a in raw if a not in KNOWN_ACTIONS]
    if unknown:
        raise ValidationError(
            "actions", f"unknown action(s) {unknown!r}; use pull, push, delete, *"
        )
    return tuple(a for a in (PULL, PUSH, DELETE, ALL) if a in raw)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request is: an authenticated user and the enabled groups they belong to."""

    username: str
    groups: tuple[str, ...] = ()
    is_admin: bool = False
    source: str = "local"


@dataclass(frozen=True, slots=True)
class User:
    username: str
    enabled: bool = True
    is_admin: bool = False
    groups: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    enabled: bool = True
    members: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """``subject`` may perform ``actions`` on resources of ``resource_type`` whose name
    matches ``pattern`` (see :mod:`libdockit.patterns`)."""

    subject: str
    resource_type: str
    pattern: str
    actions: tuple[str, ...]
    id: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the total number of items."""

    items: list[T] = field(default_factory=list)
    total: int = 0
