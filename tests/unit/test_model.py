from __future__ import annotations

import pytest

from libdockit.errors import ValidationError
from libdockit.model import normalize_actions, parse_subject, validate_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice", "alice"),
        ("Alice", "alice"),
        ("ＡＬＩＣＥ", "alice"),  # full-width letters fold under NFKC
        ("ci.bot@example.com", "ci.bot@example.com"),
        ("a", "a"),
        ("a-b_c.d", "a-b_c.d"),
    ],
)
def test_valid_names(raw: str, expected: str) -> None:
    assert validate_name(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "-a", "a-", "a b", "a/b", "a*", "*", "a\x00", "é", "x" * 65, ")(uid=*"]
)
def test_invalid_names(raw: str) -> None:
    with pytest.raises(ValidationError):
        validate_name(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("anonymous", "anonymous"),
        ("authenticated", "authenticated"),
        ("user:Alice", "user:alice"),
        ("group:devs", "group:devs"),
        ("robot:CI-Bot", "robot:ci-bot"),
    ],
)
def test_subjects(raw: str, expected: str) -> None:
    assert parse_subject(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "alice", "user:", "team:x", "group:a b", "Anonymous", "robot:a$b", "robot:"]
)
def test_invalid_subjects(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_subject(raw)
    assert caught.value.field == "subject"


def test_actions_are_canonical() -> None:
    assert normalize_actions(["push", "pull", "push"]) == ("pull", "push")
    assert normalize_actions("delete,*") == ("delete", "*")
    for bad in ([], "", ["pull", "write"], "nope", 3):
        with pytest.raises(ValidationError):
            normalize_actions(bad)
