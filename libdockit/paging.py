"""Paging bounds shared by every list the library answers (users, groups, grants, tokens,
the audit log)."""

from __future__ import annotations

from .errors import ValidationError

MAX_PAGE_SIZE = 1000


def check_paging(offset: int, limit: int) -> None:
    if offset < 0:
        raise ValidationError("offset", "must be 0 or more")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
