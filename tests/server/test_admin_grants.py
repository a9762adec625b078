"""The /api/v1/grants routes, and that grants made here decide what tokens carry."""

from __future__ import annotations

from typing import Any

import pytest

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.scope import parse_scopes
from libdockit.secret import Secret
from libdockit.service import TokenService

from .conftest import USER, USER_PASSWORD, Api, assert_error

GRANT_KEYS = {"id", "subject", "resource_type", "pattern", "actions", "scope", "created_at"}
PARTS = {
    "subject": "group:team",
    "resource_type": "repository",
    "pattern": "team/*",
    "actions": ["push", "pull"],
}


@pytest.fixture(autouse=True)
def team(backend: MemoryBackend) -> None:
    """The group the grants below name: a grant to a subject that does not exist is refused."""
    backend.create_group("team")


def granted(tokens: TokenService, scope: str) -> tuple[str, ...]:
    """What ``alice`` would get in a token for ``scope``."""
    identity = tokens.authenticate(USER, Secret(USER_PASSWORD))
    return tokens.decide(identity, parse_scopes([scope])).scopes[0].granted


def test_create_grant_from_parts(api: Api) -> None:
    result = api.post("/grants", json=PARTS)
    assert result.status_code == 201
    body = result.json
    assert set(body) == GRANT_KEYS
    assert body["id"] >= 1
    assert result.headers["Location"] == f"/api/v1/grants/{body['id']}"
    assert body["actions"] == ["pull", "push"]
    assert body["scope"] == "repository:team/*:pull,push"
    assert body["created_at"].endswith("Z")
    assert api.get(f"/grants/{body['id']}").json == body


def test_create_grant_from_scope(api: Api) -> None:
    body = {"subject": "user:Alice", "scope": "repository:localhost:5000/team/**:pull"}
    grant = api.post("/grants", json=body).json
    assert (grant["subject"], grant["resource_type"]) == ("user:alice", "repository")
    assert grant["pattern"] == "localhost:5000/team/**"
    assert grant["actions"] == ["pull"]


def test_duplicate_grant_conflicts(api: Api) -> None:
    first = api.post("/grants", json=PARTS).json
    entry = assert_error(
        api.post("/grants", json={"subject": "group:team", "scope": "repository:team/*:pull"}),
        409,
        "CONFLICT",
    )
    assert entry["detail"]["id"] == first["id"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject": "team"}, "subject"),
        ({"subject": None}, "subject"),
        ({"resource_type": "Repository"}, "resource_type"),
        ({"resource_type": "r" * 65}, "resource_type"),
        ({"pattern": ""}, "pattern"),
        ({"pattern": "team/***"}, "pattern"),
        ({"actions": []}, "actions"),
        ({"actions": "pull"}, "actions"),
        ({"actions": ["pull", 1]}, "actions"),
        ({"actions": ["pull", "fly"]}, "actions"),
        ({"note": "x"}, "note"),
    ],
)
def test_create_grant_bad_parts(api: Api, changes: dict[str, Any], field: str) -> None:
    assert_error(api.post("/grants", json={**PARTS, **changes}), 400, "INVALID_FIELD", field)
    assert api.get("/grants").json["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"subject": "group:team", "scope": "repository:team/*:pull", "actions": ["pull"]},
            "scope",
        ),
        ({"subject": "group:team", "scope": "repository"}, "scope"),
        ({"subject": "group:team", "scope": "repository:team/*:"}, "actions"),
        ({"subject": "group:team", "scope": 5}, "scope"),
        ({"subject": "group:team"}, "resource_type"),
        ({"scope": "repository:team/*:pull"}, "subject"),
    ],
)
def test_create_grant_bad_scope(api: Api, body: dict[str, Any], field: str) -> None:
    assert_error(api.post("/grants", json=body), 400, "INVALID_FIELD", field)


def test_list_grants_filter_and_pages(api: Api) -> None:
    for pattern in ("a/*", "b/*", "c/*"):
        api.post("/grants", json={"subject": "group:team", "scope": f"repository:{pattern}:pull"})
    api.post("/grants", json={"subject": "authenticated", "scope": "repository:public/*:pull"})
    body = api.get("/grants").json
    assert body["total"] == 4
    ids = [g["id"] for g in body["items"]]
    assert ids == sorted(ids)
    body = api.get("/grants", params={"subject": "group:TEAM", "offset": "1", "limit": "1"}).json
    assert [g["pattern"] for g in body["items"]] == ["b/*"]
    assert (body["total"], body["offset"], body["limit"]) == (3, 1, 1)
    body = api.get("/grants", params={"subject": "authenticated"}).json
    assert [g["pattern"] for g in body["items"]] == ["public/*"]
    assert_error(api.get("/grants", params={"subject": "bob"}), 400, "INVALID_FIELD", "subject")
    assert_error(api.get("/grants", params={"subjet": "x"}), 400, "INVALID_FIELD", "subjet")


def test_get_and_delete_grant(api: Api) -> None:
    grant_id = api.post("/grants", json=PARTS).json["id"]
    result = api.delete(f"/grants/{grant_id}")
    assert result.status_code == 204
    assert result.content == b""
    assert_error(api.get(f"/grants/{grant_id}"), 404, "NOT_FOUND")
    assert_error(api.delete(f"/grants/{grant_id}"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "raw", ["abc", "0", "-1", "1.0", "99999999999999999999", "9223372036854775808"]
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_grant_id_must_be_positive_integer(api: Api, method: str, raw: str) -> None:
    assert_error(api.call(method, f"/grants/{raw}"), 400, "INVALID_FIELD", "grant_id")


def test_user_grant_takes_effect(api: Api, tokens: TokenService) -> None:
    assert granted(tokens, "repository:team/app:pull,push") == ()
    grant = api.post("/grants", json={"subject": "user:alice", "scope": "repository:team/*:push"})
    assert granted(tokens, "repository:team/app:pull,push,delete") == ("pull", "push")
    assert granted(tokens, "repository:team/app/sub:pull") == ()
    api.delete(f"/grants/{grant.json['id']}")
    assert granted(tokens, "repository:team/app:pull,push") == ()


def test_group_grant_follows_membership_and_enabled(api: Api, tokens: TokenService) -> None:
    api.post("/groups", json={"name": "team"})
    api.post("/grants", json=PARTS)
    assert granted(tokens, "repository:team/app:push") == ()
    api.put(f"/groups/team/members/{USER}")
    assert granted(tokens, "repository:team/app:push") == ("push",)
    api.patch("/groups/team", json={"enabled": False})
    assert granted(tokens, "repository:team/app:push") == ()
    api.patch("/groups/team", json={"enabled": True})
    api.delete(f"/groups/team/members/{USER}")
    assert granted(tokens, "repository:team/app:push") == ()


def test_user_pattern_grant(api: Api, tokens: TokenService) -> None:
    api.post("/grants", json={"subject": "authenticated", "scope": "repository:home/${user}/*:*"})
    assert granted(tokens, "repository:home/alice/app:pull,push,delete") == (
        "pull",
        "push",
        "delete",
    )
    assert granted(tokens, "repository:home/bob/app:pull") == ()
