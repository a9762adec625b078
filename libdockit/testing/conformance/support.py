"""Constants, record factories and helpers shared by the conformance mixins."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from ...backends.base import (
    AuditStore,
    GrantStore,
    HealthCheck,
    KeyMaterialStore,
    LoginFailureStore,
    RefreshTokenStore,
    UserStore,
)
from ...model import AuditEvent, Grant, KeyState, RefreshToken, StoredKey

T = TypeVar("T")

STORED_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"  # the shape, not a real secret
T0 = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
# Code point order, which differs from most linguistic collations (they ignore punctuation).
AWKWARD_NAMES = ("b", "a.c", "ab", "a-b", "a_b", "a0", "z", "a@b", "a1", "aa", "a.b-c")


class ConformingBackend(
    UserStore,
    GrantStore,
    KeyMaterialStore,
    AuditStore,
    RefreshTokenStore,
    LoginFailureStore,
    HealthCheck,
    Protocol,
):
    """What a full Dockit backend implements (UserStore includes GroupSource.groups_for)."""


class UsersAndRefreshTokens(UserStore, RefreshTokenStore, Protocol):
    """What the refresh-token tests need: tokens belong to users."""


def make_key(
    kid: str,
    state: KeyState = "pending",
    *,
    created_at: datetime = T0,
    activated_at: datetime | None = None,
    retired_at: datetime | None = None,
) -> StoredKey:
    return StoredKey(
        kid=kid,
        algorithm="ES256",
        private_key_pem=b"-----BEGIN PRIVATE KEY-----\n" + kid.encode() + b"\x00\xff\n",
        certificate_chain_pem=b"-----BEGIN CERTIFICATE-----\n" + kid.encode() + b"\n",
        state=state,
        created_at=created_at,
        not_after=created_at + timedelta(days=365),
        activated_at=activated_at,
        retired_at=retired_at,
    )


def make_grant(
    subject: str = "user:alice",
    pattern: str = "alice/*",
    actions: tuple[str, ...] = ("pull", "push"),
    resource_type: str = "repository",
) -> Grant:
    return Grant(subject, resource_type, pattern, actions)


def in_threads(fn: Callable[[int], T], count: int, workers: int = 8) -> list[T]:
    """Run ``fn(0..count-1)`` on a thread pool; re-raise the first failure."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, range(count)))


def make_event(
    action: str = "user.create",
    *,
    kind: str = "admin",
    actor: str = "user:root",
    target: str | None = "user:bob",
    at: datetime | None = None,
    **fields: Any,
) -> AuditEvent:
    return AuditEvent(kind=kind, actor=actor, action=action, target=target, at=at, **fields)


def token_hash(value: str) -> str:
    """Hex SHA-256, as the token service stores refresh tokens."""
    return hashlib.sha256(value.encode()).hexdigest()


def make_refresh_token(
    token_id: str,
    username: str = "alice",
    *,
    created_at: datetime = T0,
    service: str = "registry.example.com",
    client_id: str | None = "docker",
    last_used_at: datetime | None = None,
    expires_at: datetime | None = None,
    source: str = "local",
) -> RefreshToken:
    return RefreshToken(
        id=token_id,
        token_hash=token_hash("value-of-" + token_id),
        username=username,
        service=service,
        client_id=client_id,
        created_at=created_at,
        last_used_at=last_used_at,
        expires_at=expires_at,
        source=source,
    )


def recently(value: datetime | None, *, slack: timedelta = timedelta(seconds=30)) -> bool:
    """Aware UTC and within ``slack`` of now: a time the store set itself."""
    now = datetime.now(UTC)
    return value is not None and value.utcoffset() == timedelta(0) and now - slack <= value <= now
