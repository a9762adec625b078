"""The CLI's pure pieces: exit-code mapping, registry keys, tables, passwords from stdin."""

from __future__ import annotations

import io

import pytest

from dockit_server.client import errors
from dockit_server.client.docker_config import matching_keys, registry_host
from dockit_server.client.errors import UsageError, exit_code_for_status
from dockit_server.client.output import fields, table
from dockit_server.client.passwords import from_stdin


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, errors.EXIT_USAGE),
        (413, errors.EXIT_USAGE),
        (415, errors.EXIT_USAGE),
        (401, errors.EXIT_DENIED),
        (403, errors.EXIT_DENIED),
        (404, errors.EXIT_NOT_FOUND),
        (409, errors.EXIT_CONFLICT),
        (500, errors.EXIT_UNREACHABLE),
        (503, errors.EXIT_UNREACHABLE),
        (405, errors.EXIT_FAILURE),
    ],
)
def test_status_to_exit_code(status: int, code: int) -> None:
    assert exit_code_for_status(status) == code


def test_exit_codes_are_distinct_and_documented() -> None:
    codes = [
        errors.EXIT_OK,
        errors.EXIT_FAILURE,
        errors.EXIT_USAGE,
        errors.EXIT_NOT_FOUND,
        errors.EXIT_CONFLICT,
        errors.EXIT_DENIED,
        errors.EXIT_UNREACHABLE,
    ]
    assert codes == list(range(7))
    for code in codes:
        assert f"\n  {code}  " in errors.EXIT_CODES_HELP


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("registry.example:5000", "registry.example:5000"),
        ("https://Registry.Example:5000/v2/", "registry.example:5000"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("127.0.0.1:5000/v1/", "127.0.0.1:5000"),
    ],
)
def test_registry_host(raw: str, host: str) -> None:
    assert registry_host(raw) == host


def test_matching_keys_prefer_usual_spellings() -> None:
    keys = {"https://h:1/v1/": 1, "h:1": 2, "http://h:1": 3, "h:10": 4, "other": 5}
    assert matching_keys(keys, "h:1") == ["h:1", "http://h:1", "https://h:1/v1/"]


def test_table_and_fields() -> None:
    assert table(["A", "LONG"], [["xyz", "1"], ["", "22"]]).splitlines() == [
        "A    LONG",
        "xyz  1",
        "     22",
    ]
    assert fields([("a", "1"), ("long", "")]) == "a:    1\nlong:"


@pytest.mark.parametrize(
    ("text", "password"), [("pw\n", "pw"), ("pw\r\n", "pw"), ("p w", "p w"), (" pw \n", " pw ")]
)
def test_password_from_stdin(text: str, password: str) -> None:
    assert from_stdin(io.StringIO(text)).reveal() == password


@pytest.mark.parametrize("text", ["", "\n", "x" * 1100])
def test_bad_password_from_stdin(text: str) -> None:
    with pytest.raises(UsageError):
        from_stdin(io.StringIO(text))


def test_tables_and_fields_make_control_characters_visible() -> None:
    from dockit_server.client.output import fields, table, visible

    assert visible("plain text, é, 日本") == "plain text, é, 日本"
    assert visible("a\x1b[2Jb\nc\u202ed\x85\x00\x7f\t\U000e0001") == (
        "a\\x1b[2Jb\\nc\\u202ed\\x85\\x00\\x7f\\t\\U000e0001"
    )
    assert visible("one\ntwo\x1b", keep_newlines=True) == "one\ntwo\\x1b"
    rendered = table(["NAME"], [["x\ny"], ["\x1b[31mred"]])
    assert rendered.splitlines() == ["NAME", "x\\ny", "\\x1b[31mred"]
    assert fields([("service", "s\r\x1b]0;title\x07")]) == "service: s\\r\\x1b]0;title\\x07"
