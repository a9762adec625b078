"""The /api/v1/groups routes."""

from __future__ import annotations

import pytest

from .conftest import USER, Api, assert_error

GROUP_KEYS = {"name", "enabled", "members", "created_at"}


def test_create_and_get_group(api: Api) -> None:
    result = api.post("/groups", json={"name": "Team"})
    assert result.status_code == 201
    assert result.headers["Location"] == "/api/v1/groups/team"
    body = result.json
    assert set(body) == GROUP_KEYS
    assert (body["name"], body["enabled"], body["members"]) == ("team", True, [])
    assert body["created_at"].endswith("Z")
    assert api.get("/groups/TEAM").json == body


def test_create_disabled_group(api: Api) -> None:
    body = api.post("/groups", json={"name": "ops", "enabled": False}).json
    assert body["enabled"] is False


def test_create_existing_group_conflicts(api: Api) -> None:
    api.post("/groups", json={"name": "team"})
    assert_error(api.post("/groups", json={"name": "team"}), 409, "CONFLICT")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ["team"]}, "name"),
        ({"name": "team", "enabled": "true"}, "enabled"),
        ({"name": "team", "members": []}, "members"),
        ({"name": "a b"}, "name"),
    ],
)
def test_create_group_bad_fields(api: Api, body: dict[str, object], field: str) -> None:
    assert_error(api.post("/groups", json=body), 400, "INVALID_FIELD", field)


def test_list_groups_pages(api: Api) -> None:
    for name in ("c", "a", "b"):
        api.post("/groups", json={"name": name})
    body = api.get("/groups").json
    assert [g["name"] for g in body["items"]] == ["a", "b", "c"]
    assert (body["total"], body["offset"], body["limit"]) == (3, 0, 100)
    body = api.get("/groups", params={"offset": "2", "limit": "5"}).json
    assert [g["name"] for g in body["items"]] == ["c"]
    assert (body["total"], body["offset"], body["limit"]) == (3, 2, 5)
    assert_error(api.get("/groups", params={"limit": "x"}), 400, "INVALID_FIELD", "limit")


def test_patch_group(api: Api) -> None:
    api.post("/groups", json={"name": "team"})
    assert api.patch("/groups/team", json={"enabled": False}).json["enabled"] is False
    assert api.get("/groups/team").json["enabled"] is False
    assert_error(api.patch("/groups/team", json={}), 400, "INVALID_FIELD", "enabled")
    assert_error(api.patch("/groups/team", json={"enabled": None}), 400, "INVALID_FIELD")
    assert_error(api.patch("/groups/nope", json={"enabled": True}), 404, "NOT_FOUND")


def test_delete_group(api: Api) -> None:
    api.post("/groups", json={"name": "team"})
    api.put(f"/groups/team/members/{USER}")
    result = api.delete("/groups/team")
    assert result.status_code == 204
    assert result.content == b""
    assert_error(api.get("/groups/team"), 404, "NOT_FOUND")
    assert_error(api.delete("/groups/team"), 404, "NOT_FOUND")
    assert api.get(f"/users/{USER}").json["groups"] == []


def test_members(api: Api) -> None:
    api.post("/groups", json={"name": "team"})
    first = api.put("/groups/team/members/Alice")
    assert first.status_code == 200
    assert first.json["members"] == [USER]
    again = api.put("/groups/team/members/alice")
    assert again.status_code == 200
    assert again.json["members"] == [USER]
    api.put("/groups/team/members/root")
    assert api.get("/groups/team").json["members"] == [USER, "root"]
    assert api.get(f"/users/{USER}").json["groups"] == ["team"]
    removed = api.delete("/groups/team/members/root")
    assert removed.status_code == 200
    assert removed.json["members"] == [USER]
    assert_error(api.delete("/groups/team/members/root"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("PUT", "/groups/nope/members/alice", 404, "NOT_FOUND"),
        ("PUT", "/groups/team/members/nobody", 404, "NOT_FOUND"),
        ("DELETE", "/groups/nope/members/alice", 404, "NOT_FOUND"),
        ("PUT", "/groups/team/members/-x", 400, "INVALID_FIELD"),
        ("PUT", "/groups/-x/members/alice", 400, "INVALID_FIELD"),
    ],
)
def test_member_errors(api: Api, method: str, path: str, status: int, code: str) -> None:
    api.post("/groups", json={"name": "team"})
    assert_error(api.call(method, path), status, code)
