"""Grant name patterns.

A pattern is a resource name in which these tokens may stand:

``*``        any characters within one path segment (never ``/``)
``**``       any characters, ``/`` included (``team/**`` is everything under ``team/``)
``${user}``  the authenticated caller's username; never matches for anonymous callers

Everything else matches itself. Patterns compile once and are cached.

Matching never backtracks: the caller chooses the name (anonymous callers too), so the cost
must not depend on how the name is crafted. A pattern is cut at each ``**`` into *globs* that
hold only ``*``; a glob is cut at each ``/`` into segment patterns, and a segment pattern at
each ``*`` into literal pieces. A glob with ``d`` slashes spans exactly ``d + 1`` segments of
the name, so segment patterns meet name segments one to one, and within a segment the
classic greedy rule holds: each literal piece at its leftmost place (or rightmost, matching
from the end). Between globs, ``**`` absorbs anything, so the earliest place a glob can end
is always the best one to continue from. Each glob scans each name segment at most once per
segment of its own, so the work is linear in the name's length for any accepted pattern
(bounded by the pattern's size), done by ``str.find``/``startswith`` in C.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from .errors import ValidationError

USER_TOKEN = "${user}"  # noqa: S105 - a pattern token, not a password
_TOKEN_RE = re.compile(r"\*\*|\*|\$\{user\}")
_LITERAL_RE = re.compile(r"[A-Za-z0-9._:/\[\]@-]*")
MAX_PATTERN_LENGTH = 512
_STAR, _DOUBLE_STAR, _USER = object(), object(), object()

#: Literal pieces of one segment pattern: ``a*b*c`` is ("a", "b", "c"); a lone ``*`` is ("", "").
Segment = tuple[str, ...]


class Glob(NamedTuple):
    """The segment patterns of a run of the pattern between ``**`` tokens; ``inner``: its
    segments but the first and last when they are all literal (compared in one go)."""

    segments: tuple[Segment, ...]
    inner: list[str] | None

    @classmethod
    def of(cls, segments: list[Segment]) -> Glob:
        middle = segments[1:-1]
        literal = all(len(pieces) == 1 for pieces in middle)
        return cls(tuple(segments), [p[0] for p in middle] if literal else None)


#: A place in the name: (segment index, offset within that segment).
Place = tuple[int, int]


#: Tells whether a resource name matches (one per pattern, and per username for ``${user}``).
Tester = Callable[[str], bool]


class NamePattern:
    """A compiled grant pattern; :meth:`matches` tests a resource name."""

    __slots__ = ("_test", "_tokens", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        if not source:
            raise ValidationError("pattern", "is empty")
        if len(source) > MAX_PATTERN_LENGTH:
            raise ValidationError("pattern", f"is longer than {MAX_PATTERN_LENGTH} characters")
        if "***" in source:
            raise ValidationError("pattern", "'***' is ambiguous: use '*' or '**'")
        tokens: list[object] = []
        position = 0
        for token in _TOKEN_RE.finditer(source):
            tokens.append(_literal(source[position : token.start()]))
            text = token.group()
            tokens.append(_DOUBLE_STAR if text == "**" else _STAR if text == "*" else _USER)
            position = token.end()
        tokens.append(_literal(source[position:]))
        self._tokens = tuple(t for t in tokens if t != "")
        self._test: Tester | None = None if self.uses_user else _tester(self._tokens, "")

    @property
    def uses_user(self) -> bool:
        return _USER in self._tokens

    def matches(self, name: str, username: str | None = None) -> bool:
        test = self._test
        if test is None:
            if username is None:
                return False
            test = _tester_for_user(self, username)
        return test(name)

    def __repr__(self) -> str:
        return f"NamePattern({self.source!r})"


def _literal(text: str) -> str:
    if _LITERAL_RE.fullmatch(text) is None:
        raise ValidationError(
            "pattern",
            f"{text!r} holds characters that cannot be in a resource name "
            "(allowed: letters, digits, . _ - / : @ [ ], and the tokens *, **, ${user})",
        )
    return text


def _tester(tokens: tuple[object, ...], username: str) -> Tester:
    """The test for ``tokens``, with ``${user}`` standing for ``username`` taken literally
    (a ``*`` in it would match only ``*``). Patterns without wildcards and with one
    wildcard (``team/*``, ``team/**``, ``${user}/**``: nearly all of them) are a few string
    tests in C; the rest go through :func:`_match`."""
    wildcards = [t for t in tokens if t is _STAR or t is _DOUBLE_STAR]
    if len(wildcards) > 1:
        globs = _globs(tokens, username)
        return lambda name: _match(globs, name.split("/"))
    at = tokens.index(wildcards[0]) if wildcards else len(tokens)
    prefix, suffix = (
        "".join(username if t is _USER else str(t) for t in part)
        for part in (tokens[:at], tokens[at + 1 :])
    )
    shortest = len(prefix) + len(suffix)
    if not wildcards:
        return prefix.__eq__
    if wildcards[0] is _DOUBLE_STAR:
        if not suffix:
            return lambda name: name.startswith(prefix)
        return lambda name: (
            len(name) >= shortest and name.startswith(prefix) and name.endswith(suffix)
        )
    start = len(prefix)
    if not suffix:
        return lambda name: name.startswith(prefix) and name.find("/", start) < 0
    return lambda name: (
        len(name) >= shortest
        and name.startswith(prefix)
        and name.endswith(suffix)
        and name.find("/", start, len(name) - len(suffix)) < 0
    )


def _globs(tokens: tuple[object, ...], username: str) -> tuple[Glob, ...]:
    """Cut ``tokens`` into globs, segments and literal pieces."""
    globs: list[Glob] = []
    segments: list[Segment] = []
    pieces: list[str] = [""]
    for token in tokens:
        if token is _DOUBLE_STAR:
            segments.append(tuple(pieces))
            globs.append(Glob.of(segments))
            segments, pieces = [], [""]
        elif token is _STAR:
            pieces.append("")
        else:
            text = username if token is _USER else str(token)
            first, *rest = text.split("/")
            pieces[-1] += first
            for part in rest:
                segments.append(tuple(pieces))
                pieces = [part]
    segments.append(tuple(pieces))
    globs.append(Glob.of(segments))
    return tuple(globs)


@lru_cache(maxsize=8192)
def _tester_for_user(pattern: NamePattern, username: str) -> Tester:
    return _tester(pattern._tokens, username)


# -- one segment pattern against one name segment (text[lo:hi], no "/" in either) ------------
def _segment_full(pieces: Segment, text: str, lo: int, hi: int) -> bool:
    """Whether ``pieces`` match all of ``text[lo:hi]``."""
    first, last = pieces[0], pieces[-1]
    if len(pieces) == 1:
        return hi - lo == len(first) and text.startswith(first, lo)
    if hi - lo < len(first) + len(last):
        return False
    if not (text.startswith(first, lo) and text.endswith(last, lo, hi)):
        return False
    at, end = lo + len(first), hi - len(last)
    for piece in pieces[1:-1]:
        found = text.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def _segment_earliest_end(pieces: Segment, text: str, lo: int, anchored: bool) -> int:
    """The smallest ``e`` such that ``pieces`` match ``text[s:e]`` for ``s = lo``
    (``anchored``) or some ``s >= lo``; -1 if none."""
    first = pieces[0]
    if anchored:
        if not text.startswith(first, lo):
            return -1
        at = lo + len(first)
    else:
        found = text.find(first, lo)
        if found < 0:
            return -1
        at = found + len(first)
    for piece in pieces[1:]:
        found = text.find(piece, at)
        if found < 0:
            return -1
        at = found + len(piece)
    return at


def _segment_latest_start(pieces: Segment, text: str, lo: int) -> int:
    """The largest ``s >= lo`` such that ``pieces`` match ``text[s:]``; -1 if none."""
    last = pieces[-1]
    end = len(text) - len(last)
    if end < lo or not text.startswith(last, end):
        return -1
    for piece in reversed(pieces[:-1]):
        found = text.rfind(piece, lo, end)
        if found < 0:
            return -1
        end = found
    return end


# -- globs against the name's segments ---------------------------------------------------------
def _glob_full(glob: Glob, segments: list[str]) -> bool:
    if len(glob.segments) != len(segments):
        return False
    return all(_segment_full(p, s, 0, len(s)) for p, s in zip(glob.segments, segments, strict=True))


def _middle_full(glob: Glob, segments: list[str], first: int) -> bool:
    """Whether the inner segment patterns of ``glob`` match whole name segments from
    ``first + 1`` on."""
    span = len(glob.segments) - 1
    if glob.inner is not None:
        return segments[first + 1 : first + span] == glob.inner
    return all(
        _segment_full(glob.segments[i], segments[first + i], 0, len(segments[first + i]))
        for i in range(1, span)
    )


def _glob_earliest_end(
    glob: Glob, segments: list[str], start: Place, *, anchored: bool
) -> Place | None:
    """Where the earliest match of ``glob`` ends that begins at ``start`` (``anchored``) or
    anywhere after it; None if there is none."""
    head, tail = glob.segments[0], glob.segments[-1]
    span = len(glob.segments) - 1
    first_segment, first_offset = start
    last_candidate = first_segment if anchored else len(segments) - 1 - span
    for t in range(first_segment, last_candidate + 1):
        if t + span >= len(segments):
            return None
        lo = first_offset if t == first_segment else 0
        if span == 0:
            end = _segment_earliest_end(head, segments[t], lo, anchored)
        else:
            if anchored:
                head_ok = _segment_full(head, segments[t], lo, len(segments[t]))
            else:
                head_ok = _segment_latest_start(head, segments[t], lo) >= 0
            if not head_ok or not _middle_full(glob, segments, t):
                continue
            end = _segment_earliest_end(tail, segments[t + span], 0, True)
        if end >= 0:
            return (t + span, end)
    return None


def _glob_ends_the_name(glob: Glob, segments: list[str], start: Place) -> bool:
    """Whether ``glob`` matches the end of the name from some place at or after ``start``."""
    span = len(glob.segments) - 1
    t = len(segments) - 1 - span
    first_segment, first_offset = start
    if t < first_segment:
        return False
    lo = first_offset if t == first_segment else 0
    if span and not (
        _middle_full(glob, segments, t)
        and _segment_full(glob.segments[-1], segments[-1], 0, len(segments[-1]))
    ):
        return False
    return _segment_latest_start(glob.segments[0], segments[t], lo) >= 0


def _match(globs: tuple[Glob, ...], segments: list[str]) -> bool:
    if len(globs) == 1:
        return _glob_full(globs[0], segments)
    place = _glob_earliest_end(globs[0], segments, (0, 0), anchored=True)
    for glob in globs[1:-1]:
        if place is None:
            return False
        place = _glob_earliest_end(glob, segments, place, anchored=False)
    return place is not None and _glob_ends_the_name(globs[-1], segments, place)


@lru_cache(maxsize=65536)
def compile_pattern(source: str) -> NamePattern:
    """The cached compiled form of ``source``; raises :class:`ValidationError` if invalid."""
    return NamePattern(source)
