"""Grant name patterns.

A pattern is a resource name in which these tokens may stand:

``*``        any characters within one path segment (never ``/``)
``**``       any characters, ``/`` included (``team/**`` is everything under ``team/``)
``${user}``  the authenticated caller's username; never matches for anonymous callers

Everything else matches itself. Patterns compile once and are cached.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import ValidationError

USER_TOKEN = "${user}"  # noqa: S105 - a pattern token, not a password
_TOKEN_RE = re.compile(r"\*\*|\*|\$\{user\}")
_LITERAL_RE = re.compile(r"[A-Za-z0-9._:/\[\]@-]*")
_USER_GROUP = "user"
MAX_PATTERN_LENGTH = 512


class NamePattern:
    """A compiled grant pattern; :meth:`matches` tests a resource name."""

    __slots__ = ("_literal", "_regex", "_user_regex_source", "source")

    def __init__(self, source: str) -> None:
        if not source:
            raise ValidationError("pattern", "is empty")
        if len(source) > MAX_PATTERN_LENGTH:
            raise ValidationError("pattern", f"is longer than {MAX_PATTERN_LENGTH} characters")
        if "***" in source:
            raise ValidationError("pattern", "'***' is ambiguous: use '*' or '**'")
        parts: list[str] = []
        position = 0
        uses_user = False
        for token in _TOKEN_RE.finditer(source):
            parts.append(_literal(source[position : token.start()]))
            text = token.group()
            if text == "**":
                parts.append(".*")
            elif text == "*":
                parts.append("[^/]*")
            else:
                uses_user = True
                parts.append(f"(?P={_USER_GROUP})")
            position = token.end()
        parts.append(_literal(source[position:]))
        self.source = source
        body = "".join(parts)
        self._literal: str | None = source if position == 0 else None
        self._regex: re.Pattern[str] | None = None
        self._user_regex_source: str | None = None
        if uses_user:
            self._user_regex_source = body
        elif self._literal is None:
            self._regex = re.compile(body)

    @property
    def uses_user(self) -> bool:
        return self._user_regex_source is not None

    def matches(self, name: str, username: str | None = None) -> bool:
        if self._literal is not None:
            return name == self._literal
        if self._regex is not None:
            return self._regex.fullmatch(name) is not None
        if username is None or self._user_regex_source is None:
            return False
        return _user_regex(self._user_regex_source, username).fullmatch(name) is not None

    def __repr__(self) -> str:
        return f"NamePattern({self.source!r})"


def _literal(text: str) -> str:
    if _LITERAL_RE.fullmatch(text) is None:
        raise ValidationError(
            "pattern",
            f"{text!r} holds characters that cannot be in a resource name "
            "(allowed: letters, digits, . _ - / : @ [ ], and the tokens *, **, ${user})",
        )
    return re.escape(text)


@lru_cache(maxsize=8192)
def _user_regex(body: str, username: str) -> re.Pattern[str]:
    # The username is substituted as an escaped literal, never as regex syntax.
    return re.compile(body.replace(f"(?P={_USER_GROUP})", re.escape(username)))


@lru_cache(maxsize=65536)
def compile_pattern(source: str) -> NamePattern:
    """The cached compiled form of ``source``; raises :class:`ValidationError` if invalid."""
    return NamePattern(source)
