from __future__ import annotations

import pytest

from libdockit.errors import ScopeError
from libdockit.scope import (
    MAX_NAME_LENGTH,
    MAX_RESOURCE_TYPE_LENGTH,
    MAX_SCOPES,
    ResourceScope,
    format_scopes,
    parse_resource_scope,
    parse_scopes,
)

R = ResourceScope


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repository:alice/hello:pull", R("repository", "alice/hello", ("pull",))),
        ("repository:alice/hello:pull,push", R("repository", "alice/hello", ("pull", "push"))),
        ("repository:hello:push,pull,push", R("repository", "hello", ("push", "pull"))),
        ("registry:catalog:*", R("registry", "catalog", ("*",))),
        (
            "repository:localhost:5000/team/app:pull",
            R("repository", "localhost:5000/team/app", ("pull",)),
        ),
        (
            "repository:registry.example.com:443/a/b:delete",
            R("repository", "registry.example.com:443/a/b", ("delete",)),
        ),
        ("repository:Example.COM/a:pull", R("repository", "Example.COM/a", ("pull",))),
        ("repository:[::1]:5000/a:pull", R("repository", "[::1]:5000/a", ("pull",))),
        (
            "repository(plugin):team/plug:pull",
            R("repository", "team/plug", ("pull",), resource_class="plugin"),
        ),
        ("repository:a__b/c-d/e.f_g:pull", R("repository", "a__b/c-d/e.f_g", ("pull",))),
        ("repository:a---b:pull", R("repository", "a---b", ("pull",))),
        ("repository:a:metadata-read", R("repository", "a", ("metadata-read",))),
    ],
)
def test_parse_valid(text: str, expected: ResourceScope) -> None:
    assert parse_resource_scope(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "type:name:actions"),
        ("repository", "type:name:actions"),
        ("repository:pull", "type:name:actions"),
        ("repository::pull", "empty"),
        ("repository:name:", "no actions"),
        ("Repository:name:pull", "resource type"),
        ("repo sitory:name:pull", "resource type"),
        ("repository(:name:pull", "resource type"),
        ("repository():name:pull", "resource type"),
        ("repository:Upper/case:pull", "invalid"),
        ("repository:a//b:pull", "invalid"),
        ("repository:/a:pull", "invalid"),
        ("repository:a/:pull", "invalid"),
        ("repository:a..b:pull", "invalid"),
        ("repository:-a:pull", "invalid"),
        ("repository:a_:pull", "invalid"),
        ("repository:a/b?c:pull", "invalid"),
        ("repository:a\x00b:pull", "invalid"),
        ("repository:ä:pull", "invalid"),
        ("repository:a:PULL", "action"),
        ("repository:a:pull,,push", "action"),
        ("repository:a:pull;push", "action"),
        ("repository:a:**", "action"),
        ("repository:" + "a" * (MAX_NAME_LENGTH + 1) + ":pull", "longer than"),
        ("r" * (MAX_RESOURCE_TYPE_LENGTH + 1) + ":a:pull", "type is longer than 64"),
        ("repository(" + "c" * (MAX_RESOURCE_TYPE_LENGTH + 1) + "):a:pull", "type is longer"),
        ("r" * 5000 + ":a:pull", "type is longer than 64"),
    ],
)
def test_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(ScopeError) as caught:
        parse_resource_scope(text)
    assert fragment in caught.value.message


def test_longest_resource_type_and_class_are_accepted() -> None:
    longest = "r" * MAX_RESOURCE_TYPE_LENGTH
    parsed = parse_resource_scope(f"{longest}({longest}):a:pull")
    assert (parsed.type, parsed.resource_class) == (longest, longest)


def test_longest_name_is_accepted() -> None:
    name = "a" * MAX_NAME_LENGTH
    assert parse_resource_scope(f"repository:{name}:pull").name == name


def test_repeated_and_space_separated_scopes_merge_in_order() -> None:
    scopes = parse_scopes(
        [
            "repository:b:pull repository:a:pull",
            "repository:b:push",
            "",
            "registry:catalog:*",
        ]
    )
    assert scopes == [
        R("repository", "b", ("pull", "push")),
        R("repository", "a", ("pull",)),
        R("registry", "catalog", ("*",)),
    ]


def test_class_keeps_resources_apart() -> None:
    scopes = parse_scopes(["repository:a:pull repository(plugin):a:push"])
    assert [s.resource_class for s in scopes] == [None, "plugin"]


def test_double_spaces_are_tolerated() -> None:
    assert len(parse_scopes(["repository:a:pull  repository:b:pull"])) == 2


def test_tab_is_not_a_separator() -> None:
    with pytest.raises(ScopeError):
        parse_scopes(["repository:a:pull\trepository:b:pull"])


def test_no_scopes_is_empty() -> None:
    assert parse_scopes([]) == []
    assert parse_scopes([""]) == []


def test_too_many_scopes() -> None:
    values = [f"repository:r{i}:pull" for i in range(MAX_SCOPES)]
    assert len(parse_scopes(values)) == MAX_SCOPES
    with pytest.raises(ScopeError, match="more than"):
        parse_scopes([*values, "repository:one-more:pull"])


def test_duplicates_do_not_count_against_the_cap() -> None:
    values = ["repository:same:pull"] * (MAX_SCOPES * 2)
    assert len(parse_scopes(values)) == 1


def test_oversized_value() -> None:
    with pytest.raises(ScopeError, match="longer than"):
        parse_scopes(["repository:a:pull " * 1000])


def test_format_round_trips() -> None:
    texts = [
        "repository:localhost:5000/a/b:pull,push",
        "repository(plugin):x:pull",
        "registry:catalog:*",
    ]
    scopes = parse_scopes(texts)
    assert format_scopes(scopes) == " ".join(texts)
    assert parse_scopes([format_scopes(scopes)]) == scopes
