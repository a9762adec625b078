from __future__ import annotations

import pytest

from libdockit.errors import ValidationError
from libdockit.patterns import compile_pattern


@pytest.mark.parametrize(
    ("pattern", "name", "user", "expected"),
    [
        ("team/app", "team/app", None, True),
        ("team/app", "team/app2", None, False),
        ("team/*", "team/app", None, True),
        ("team/*", "team/a/b", None, False),
        ("team/*", "team/", None, True),
        ("team/*", "other/app", None, False),
        ("team/**", "team/a/b/c", None, True),
        ("team/**", "team", None, False),
        ("team/**", "teamx/a", None, False),
        ("**", "anything/at/all", None, True),
        ("*", "single", None, True),
        ("*", "two/segments", None, False),
        ("*/app", "team/app", None, True),
        ("app-*", "app-frontend", None, True),
        ("app-*", "app/frontend", None, False),
        ("a.b", "a.b", None, True),
        ("a.b", "axb", None, False),
        ("${user}/*", "alice/app", "alice", True),
        ("${user}/*", "alice/app", "bob", False),
        ("${user}/*", "alice/app", None, False),
        ("${user}/**", "alice/a/b", "alice", True),
        ("${user}", "alice", "alice", True),
        ("${user}-*", "alice-x", "alice", True),
        ("home/${user}", "home/a.c", "a.c", True),
        ("home/${user}", "home/abc", "a.c", False),
        ("localhost:5000/team/*", "localhost:5000/team/x", None, True),
        # several wildcards: matched segment by segment, without backtracking
        ("team/*/*", "team/a/b", None, True),
        ("team/*/*", "team/a", None, False),
        ("*/app-*", "team/app-x", None, True),
        ("*-*-x", "a-b-c-x", None, True),
        ("*-*-x", "a-b/c-x", None, False),
        ("**/cache/*", "a/b/cache/x", None, True),
        ("**/cache/*", "a/b/cache/x/y", None, False),
        ("**a**b", "xa/yb", None, True),
        ("**a**b", "xb/ya", None, False),
        ("a/**/b", "a/b", None, False),
        ("a/**/b", "a//b", None, True),
        ("a**/b", "a/b", None, True),
        ("${user}/*/**", "alice/x/y", "alice", True),
        ("**/${user}-*", "p/q/bob-1", "bob", True),
        ("**/${user}-*", "p/q/bob-1/z", "bob", False),
    ],
)
def test_matches(pattern: str, name: str, user: str | None, expected: bool) -> None:
    assert compile_pattern(pattern).matches(name, user) is expected


@pytest.mark.parametrize(
    "pattern",
    ["", "a b", "***", "team/$user", "${users}/x", "a(b)", "a+b", "x" * 513, "a\\b", "${user"],
)
def test_invalid_patterns(pattern: str) -> None:
    with pytest.raises(ValidationError) as caught:
        compile_pattern(pattern)
    assert caught.value.field == "pattern"


def test_username_is_a_literal_not_a_regex() -> None:
    pattern = compile_pattern("${user}/x")
    assert not pattern.matches("ab/x", "a.")  # '.' in the username must not be a wildcard
    assert pattern.matches("a./x", "a.")


def test_compiled_patterns_are_cached() -> None:
    assert compile_pattern("team/*") is compile_pattern("team/*")
