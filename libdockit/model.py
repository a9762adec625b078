"""Plain records passed across the backend protocols, and the rules for names and subjects.

Usernames and group names are normalised (Unicode NFKC, then lower case) before they are
checked, stored or looked up, so ``Alice`` and its full-width form are the same account
and ``${user}`` patterns always expand to a valid lowercase repository path component.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Generic, Literal, TypedDict, TypeVar, get_args, get_type_hints

from .errors import ValidationError
from .scope import ALL, DELETE, KNOWN_ACTIONS, MAX_RESOURCE_TYPE_LENGTH, PULL, PUSH

ANONYMOUS = "anonymous"
AUTHENTICATED = "authenticated"
USER_PREFIX = "user:"
GROUP_PREFIX = "group:"
#: A robot account's grants (see :mod:`libdockit.access_credentials`).
ROBOT_PREFIX = "robot:"

MAX_NAME_LENGTH = 64
T = TypeVar("T")
_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9])?")
_RESOURCE_TYPE_RE = re.compile(r"[a-z0-9]+")


def normalize_name(raw: str) -> str:
    """NFKC + lower case: the one canonical form of a user or group name."""
    return unicodedata.normalize("NFKC", raw).lower()


def _valid_or_none(raw: str) -> str | None:
    name = normalize_name(raw)
    return name if _NAME_RE.fullmatch(name) is not None else None


#: Every login checks its name twice (throttle key, user lookup), so the answers for short
#: names are remembered (the same either way; longer ones are simply checked each time).
_remembered_valid_or_none = lru_cache(maxsize=4096)(_valid_or_none)
_MAX_REMEMBERED_NAME = 4 * MAX_NAME_LENGTH


def validate_name(raw: str, *, field_name: str = "name") -> str:
    """Normalise and check a user or group name; raise :class:`ValidationError` if invalid."""
    short = len(raw) <= _MAX_REMEMBERED_NAME
    name = _remembered_valid_or_none(raw) if short else _valid_or_none(raw)
    if name is None:
        raise ValidationError(
            field_name,
            f"must be 1-{MAX_NAME_LENGTH} characters of a-z, 0-9, '.', '_', '@' or '-', "
            "starting and ending with a letter or digit",
        )
    return name


def parse_subject(raw: str) -> str:
    """Canonical subject: ``user:NAME``, ``group:NAME``, ``robot:NAME``, ``anonymous`` or
    ``authenticated``."""
    if raw in (ANONYMOUS, AUTHENTICATED):
        return raw
    for prefix in (USER_PREFIX, GROUP_PREFIX, ROBOT_PREFIX):
        if raw.startswith(prefix):
            return prefix + validate_name(raw[len(prefix) :], field_name="subject")
    raise ValidationError(
        "subject", "must be user:NAME, group:NAME, robot:NAME, 'anonymous' or 'authenticated'"
    )


def validate_resource_type(raw: str) -> str:
    if len(raw) > MAX_RESOURCE_TYPE_LENGTH or _RESOURCE_TYPE_RE.fullmatch(raw) is None:
        raise ValidationError(
            "resource_type", f"must be 1-{MAX_RESOURCE_TYPE_LENGTH} lowercase letters and digits"
        )
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


#: The ``source`` of local (Dockit's own) users' identities and refresh tokens.
LOCAL_SOURCE = "local"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request is: an authenticated user and the enabled groups they belong to."""

    username: str
    groups: tuple[str, ...] = ()
    is_admin: bool = False
    source: str = "local"


@dataclass(frozen=True, slots=True)
class LoginRecord:
    """What a password login needs of a local user, read in one go: the stored hash, whether
    the account may log in, and the names of its *enabled* groups (sorted)."""

    username: str
    password_hash: str
    enabled: bool
    is_admin: bool
    groups: tuple[str, ...] = ()


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
class AddedGrant:
    """A grant just stored, with notes on what was accepted on trust (e.g. a subject taken
    to be a directory's group), for the caller to show."""

    grant: Grant
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the total number of items."""

    items: list[T] = field(default_factory=list)
    total: int = 0


# -- audit log and refresh tokens --------------------------------------------------------------
# AuditEvent.kind: a change made through the Admin API, or a token decision (issued/refused).
AUDIT_KINDS = ("admin", "token")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry of the audit log: an admin change or a token decision.

    ``before``, ``after`` and ``detail`` are JSON objects: stores keep them as JSON text, so
    what is read back is their JSON round trip (tuples come back as lists).
    """

    kind: str  # "admin" (a change through the Admin API) or "token" (a token decision)
    actor: str  # "user:NAME" or "anonymous"
    action: str  # e.g. "user.create", "group.member.add", "token.issue", "token.refuse"
    target: str | None = None  # e.g. "user:bob", "group:devs", "grant:12"; tokens: the service
    before: dict[str, Any] | None = None  # JSON-able state before (admin changes)
    after: dict[str, Any] | None = None  # JSON-able state after
    detail: dict[str, Any] | None = None  # tokens: {"service", "requested", "granted", "reason"}
    client_address: str | None = None
    request_id: str | None = None
    at: datetime | None = None  # set by the store if None (UTC)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """An OAuth2 refresh token handed to ``docker login``; only its hash is ever stored."""

    id: str  # public, non-secret identifier (for listing and revoking)
    token_hash: str  # hex SHA-256 of the opaque token value
    username: str
    service: str
    client_id: str | None
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    #: Who vouches for ``username``: ``local`` (a Dockit user) or a directory (``ldap``).
    source: str = "local"


def action_prefix(action_filter: str) -> str | None:
    """The prefix an audit ``action`` filter asks for ("user.*" -> "user."), or None when it
    is an exact action."""
    return action_filter[:-1] if action_filter.endswith(".*") else None


class AuditFilter(TypedDict, total=False):
    """Which audit events a query returns (``Auditor.query``, ``AuditStore.query_events``):
    every filter given must match; a filter left out or None matches anything.

    Each filter's name, type, the sentence beside it (and the values it may take) are
    written here only: the Admin API's query parameters, its OpenAPI document and the
    ``dockit audit`` options are made from them (:data:`AUDIT_FILTERS`).
    """

    kind: Annotated[str | None, "`admin` (changes) or `token` (decisions).", AUDIT_KINDS]
    actor: Annotated[str | None, "Who acted, e.g. `user:alice` or `anonymous`."]
    action: Annotated[str | None, "An action, or a prefix ending in `.*` (e.g. `user.*`)."]
    target: Annotated[
        str | None, "What was acted on, e.g. `user:bob`, `grant:12`, `key:KID`, or a service."
    ]
    since: Annotated[datetime | None, "Only events at or after this RFC 3339 time."]
    until: Annotated[datetime | None, "Only events before this RFC 3339 time."]


@dataclass(frozen=True, slots=True)
class FilterField:
    """One filter of :class:`AuditFilter`: its name, its type without ``None`` (``str`` or
    ``datetime``), what it means, and the values it may take (None: any)."""

    name: str
    type: type
    doc: str
    choices: tuple[str, ...] | None = None


def _filter_fields() -> tuple[FilterField, ...]:
    fields = []
    for name, hint in get_type_hints(AuditFilter, include_extras=True).items():
        optional, doc, *choices = get_args(hint)  # Annotated[X | None, doc[, choices]]
        (kind,) = [arg for arg in get_args(optional) if arg is not type(None)]
        fields.append(FilterField(name, kind, doc, *choices))
    return tuple(fields)


AUDIT_FILTERS: tuple[FilterField, ...] = _filter_fields()


def check_audit_filter(where: AuditFilter) -> AuditFilter:
    """``where`` itself; a name that is not a filter is a TypeError, as a wrong keyword is
    (``**where`` would otherwise take it and match everything)."""
    unknown = sorted(set(where) - {field.name for field in AUDIT_FILTERS})
    if unknown:
        raise TypeError(f"unknown audit filter: {', '.join(unknown)}")
    return where


#: json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False), without building
#: an encoder per call (every token decision is dumped).
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def dump_json_object(field_name: str, value: dict[str, Any] | None) -> str | None:
    """The canonical JSON text stores keep for an audit event's ``before``/``after``/``detail``.

    Keys are sorted and non-ASCII is escaped (so even a lone surrogate from a hostile request
    survives a UTF-8 database); a value JSON cannot represent is a :class:`ValidationError`.
    """
    if value is None:
        return None
    try:
        return _CANONICAL_JSON(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field_name, f"must be a JSON object: {exc}") from None


def load_json_object(text: str | None) -> dict[str, Any] | None:
    """The inverse of :func:`dump_json_object`."""
    if text is None:
        return None
    value: dict[str, Any] = json.loads(text)
    return value


KeyState = Literal["pending", "active", "retired"]


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A signing key as persisted: PEM private key and PEM certificate chain (leaf first)."""

    kid: str
    algorithm: str
    private_key_pem: bytes
    certificate_chain_pem: bytes
    state: KeyState
    created_at: datetime
    not_after: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoginFailures:
    """Failed logins counted under one key (``user:NAME`` or ``client:ADDRESS``).

    ``failures`` counts since ``window_start``; ``blocked_until`` (if set) is when logins
    under this key are allowed again. ``checking`` counts attempts reserved under this key
    whose secret is still being checked: their failures are counted ahead (see
    :meth:`LoginFailureStore.reserve_login_attempt`), so a block while it is above 0 may
    still be taken back.
    """

    key: str
    failures: int
    window_start: datetime
    blocked_until: datetime | None = None
    checking: int = 0

    def blocked_at(self, moment: datetime) -> bool:
        """Blocked at ``moment`` by failures already known to be failures."""
        return self.checking <= 0 and self.blocked_until is not None and self.blocked_until > moment


#: Given the failure count just reached, how long to block (None: not at all).
BackoffRule = Callable[[int], timedelta | None]


@dataclass(frozen=True, slots=True)
class LoginReservation:
    """What :meth:`LoginFailureStore.reserve_login_attempt` did.

    ``blocked_until``: a key was blocked, nothing changed; ``checking`` says the block may
    yet be taken back, since attempts still being checked made it. Else ``counted`` holds the
    counters after this attempt (with ``blocks_before``, each one's ``blocked_until``
    before it, to take the count back), and ``repeated`` the keys that had just seen this
    very wrong secret and did not count it.
    """

    fingerprint: str | None
    blocked_until: datetime | None = None
    checking: bool = False
    counted: tuple[LoginFailures, ...] = ()
    blocks_before: tuple[datetime | None, ...] = ()
    repeated: tuple[str, ...] = ()

    @property
    def known_wrong(self) -> bool:
        """Every key saw this secret fail a moment ago, so nothing was counted."""
        return self.blocked_until is None and not self.counted and bool(self.repeated)


# -- robot accounts and personal access tokens -------------------------------------------------
#: A robot account (its own name and grants) or a personal access token (its owner's rights,
#: narrowed to its scopes).
CredentialKind = Literal["robot", "pat"]
CREDENTIAL_KINDS: tuple[CredentialKind, ...] = ("robot", "pat")


@dataclass(frozen=True, slots=True)
class AccessCredential:
    """A robot's or personal access token's secret, stored as the SHA-256 of its value (see
    :mod:`libdockit.access_secrets`): a 256-bit random secret needs no slow hash, so the
    check is one lookup by hash. ``owner`` is a subject (``user:NAME``; robots may also be
    owned by ``group:NAME``), vouched for by ``owner_source`` like a refresh token's user."""

    id: str  # public, non-secret identifier (for listing, rotating and revoking)
    kind: CredentialKind
    name: str  # robot: its login name (unique among robots); PAT: the owner's label for it
    owner: str
    secret_hash: str  # hex SHA-256 of the whole secret, prefix included
    created_at: datetime
    expires_at: datetime | None  # None: never (robots only where an admin setting allows it)
    scopes: tuple[str, ...] = ()  # PAT: TYPE:PATTERN:ACTIONS it is narrowed to; (): not narrowed
    enabled: bool = True
    access_token_lifetime: timedelta | None = None  # whole seconds; None: service's default
    last_used_at: datetime | None = None
    last_used_from: str | None = None  # client address of that last use
    owner_source: str = LOCAL_SOURCE
