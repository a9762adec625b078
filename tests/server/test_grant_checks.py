"""POST /api/v1/grants refuses grants that could never match, with a 400 that says the fix,
and stores nothing; with a directory configured, unknown subjects are accepted with a note."""

from __future__ import annotations

import pytest

from libdockit.admin import AdminService
from libdockit.audit import Actor
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import ValidationError
from libdockit.passwords import PasswordHasher

from .conftest import USER, Api, assert_error

TEST_ACTOR = Actor.system("tests")


@pytest.fixture(autouse=True)
def devs(backend: MemoryBackend) -> None:
    backend.create_group("devs")


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (
            {"subject": "user:alice", "scope": "repositry:alice/*:pull"},
            "resource_type",
            "unknown resource type 'repositry' (did you mean 'repository'?)",
        ),
        (
            {
                "subject": "user:alice",
                "resource_type": "repo",
                "pattern": "alice/*",
                "actions": ["pull"],
            },
            "resource_type",
            "--allow-unknown-type",
        ),
        (
            {"subject": "user:alice", "scope": "repository:Alice/*:pull"},
            "pattern",
            "has upper-case letters, but resource names are lower case, so it could never "
            "match; use 'alice/*'",
        ),
        (
            {"subject": "user:alice", "scope": "repository:Registry.Example.com/Team/*:pull"},
            "pattern",
            "use 'Registry.Example.com/team/*'",
        ),
        (
            {"subject": "user:bob", "scope": "repository:bob/*:pull"},
            "subject",
            "user:bob does not exist: create the user first with dockit user add bob",
        ),
        (
            {"subject": "group:ops", "scope": "repository:ops/*:pull"},
            "subject",
            "group:ops does not exist: create the group first with dockit group add ops",
        ),
        (
            {"subject": "authenticated", "scope": "registry:catalog:pull"},
            "actions",
            "the registry asks for registry:catalog:*",
        ),
        (
            {"subject": "authenticated", "scope": "registry:catalg:*"},
            "pattern",
            "must match 'catalog'",
        ),
    ],
)
def test_refused_with_the_fix(api: Api, body: dict[str, object], field: str, says: str) -> None:
    entry = assert_error(api.post("/grants", json=body), 400, "INVALID_FIELD", field)
    assert says in entry["message"]
    assert api.get("/grants").json["total"] == 0


@pytest.mark.parametrize(
    ("subject", "scope"),
    [
        ("user:alice", "repository:alice/**:pull,push"),
        ("group:devs", "repository:team/*:pull"),
        ("authenticated", "registry:catalog:*"),
        ("anonymous", "registry:*:*"),
        ("user:alice", "repository:localhost:5000/alice/*:pull"),
        ("user:alice", "repository:Registry.Example.com/alice/*:pull"),
        ("user:alice", "repository:${user}/*:pull"),
    ],
)
def test_grants_that_can_match_are_stored(api: Api, subject: str, scope: str) -> None:
    result = api.post("/grants", json={"subject": subject, "scope": scope})
    assert result.status_code == 201, result.text
    assert "notes" not in result.json


def test_unknown_type_when_asked_for(api: Api) -> None:
    body = {"subject": "user:alice", "scope": "helmchart:alice/*:pull", "allow_unknown_type": True}
    result = api.post("/grants", json=body)
    assert result.status_code == 201, result.text
    assert result.json["resource_type"] == "helmchart"
    # Only the type is let through: a case that can never match is still refused.
    body["scope"] = "helmchart:Alice/*:pull"
    assert_error(api.post("/grants", json=body), 400, "INVALID_FIELD", "pattern")
    assert_error(
        api.post("/grants", json={**body, "allow_unknown_type": "yes"}),
        400,
        "INVALID_FIELD",
        "allow_unknown_type",
    )


def test_directory_subjects_are_taken_with_a_note(backend: MemoryBackend) -> None:
    admin = AdminService(backend, backend, PasswordHasher(), directory="LDAP")
    added = admin.add_grant_from_scope(
        "group:developers", "repository:dev/**:pull,push", actor=TEST_ACTOR
    )
    assert added.grant.subject == "group:developers"
    assert added.notes == (
        "group:developers is not a local group: taken to be the directory's (LDAP) group of "
        "that name, which Dockit cannot check; make sure it is spelled as the directory has it",
    )
    on_local = admin.add_grant_from_scope(
        f"user:{USER}", "repository:alice/*:pull", actor=TEST_ACTOR
    )
    assert on_local.notes == ()
    # The other checks still hold with a directory.
    with pytest.raises(ValidationError) as refused:
        admin.add_grant_from_scope("group:developers", "repositry:dev/**:pull", actor=TEST_ACTOR)
    assert refused.value.field == "resource_type"
