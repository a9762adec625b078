"""The expiry and access-token lifetime of a robot or personal access token, as the
library takes them, from a request body (:class:`~.body_types.RobotCreate`,
:class:`~.body_types.TokenCreate`, :class:`~.body_types.SecretRotate`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from msgspec import UnsetType

from libdockit.credential_admin import Expiry
from libdockit.errors import ValidationError

from .body_types import given


class WithExpiry(Protocol):
    expires_at: str | UnsetType
    expires_in: int | UnsetType
    never: bool


def expiry_of(body: WithExpiry) -> Expiry:
    """A moment (``expires_at``), a time from now (``expires_in``) or None (neither)."""
    expires_at, expires_in = given(body.expires_at), given(body.expires_in)
    if expires_at is not None and expires_in is not None:
        raise ValidationError("expires_in", "give expires_at or expires_in, not both")
    if expires_in is not None:
        return timedelta(seconds=expires_in)
    if expires_at is None:
        return None
    try:
        moment = datetime.fromisoformat(expires_at)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationError(
            "expires_at", "must be an RFC 3339 time with a time zone, e.g. 2026-12-31T00:00:00Z"
        )
    return moment


def lifetime_of(seconds: int | UnsetType) -> timedelta | None:
    value = given(seconds)
    return None if value is None else timedelta(seconds=value)
