"""Query parameters of the Admin API's listings: ``offset``, ``limit`` and filters.

Values must be given at most once and be plain decimal integers; anything else is a 400
``INVALID_FIELD`` naming the parameter. Ranges are checked by
:func:`libdockit.admin.check_paging`. Unknown parameters are refused too, so a typo such as
``?subjet=`` does not quietly list everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import falcon

from libdockit.errors import ValidationError
from libdockit.model import Page

T = TypeVar("T")

DEFAULT_OFFSET = 0
DEFAULT_LIMIT = 100
PAGING_PARAMS = ("offset", "limit")

_INTEGER_RE = re.compile(r"-?[0-9]+")
_MAX_DIGITS = 18


def check_params(
    req: falcon.Request, allowed: Iterable[str], *, repeatable: Iterable[str] = ()
) -> None:
    """Refuse query parameters the operation does not know, or that repeat."""
    known = frozenset(allowed) | frozenset(repeatable)
    may_repeat = frozenset(repeatable)
    for name in sorted(req.params):
        if name not in known:
            expected = ", ".join(sorted(known)) or "none"
            raise ValidationError(name, f"unknown query parameter (known: {expected})")
        if isinstance(req.params[name], list) and name not in may_repeat:
            raise ValidationError(name, "must be given at most once")


def single_param(req: falcon.Request, name: str) -> str | None:
    value = req.params.get(name)
    if isinstance(value, list):
        raise ValidationError(name, "must be given at most once")
    return value


def int_param(req: falcon.Request, name: str, default: int) -> int:
    raw = single_param(req, name)
    if raw is None:
        return default
    if _INTEGER_RE.fullmatch(raw) is None:
        raise ValidationError(name, "must be an integer")
    if len(raw.lstrip("-")) > _MAX_DIGITS:
        raise ValidationError(name, "is out of range")
    return int(raw)


def read_paging(req: falcon.Request, *filters: str) -> tuple[int, int]:
    """``(offset, limit)`` from the query string; ``filters`` are the other known params."""
    check_params(req, (*PAGING_PARAMS, *filters))
    return int_param(req, "offset", DEFAULT_OFFSET), int_param(req, "limit", DEFAULT_LIMIT)


def page_json(
    page: Page[T], offset: int, limit: int, render: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    return {
        "items": [render(item) for item in page.items],
        "total": page.total,
        "offset": offset,
        "limit": limit,
    }
