"""/api/v1/explain answers exactly what /v2/token grants, with the grants that gave it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import falcon.testing
import pytest

from dockit_server.components import Components
from libdockit.audit import Actor
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.ring import ensure_active_key
from libdockit.model import Grant
from tests.support.verifier import verify_token

from .conftest import ADMIN_AUTH, API, USER_AUTH, USER_PASSWORD, Hashes, basic

APP = Actor.system("test")
GRANTS = [
    Grant("user:alice", "repository", "alice/*", ("push",)),
    Grant("group:devs", "repository", "team/**", ("pull",)),
    Grant("group:ops", "repository", "team/**", ("*",)),
    Grant("group:off", "repository", "**", ("*",)),
    Grant("authenticated", "repository", "${user}/private/*", ("pull", "delete")),
    Grant("anonymous", "repository", "public/*", ("pull",)),
    Grant("user:alice", "registry", "catalog", ("*",)),
]

CASES = [
    ("alice", "repository:alice/app:pull,push,delete"),
    ("alice", "repository:team/a/b:pull,push,delete"),
    ("alice", "repository:alice/private/x:pull,delete,push"),
    ("alice", "repository:bob/private/x:pull"),
    ("alice", "repository:public/x:pull,push"),
    ("alice", "registry:catalog:*"),
    ("alice", "repository:other/x:pull repository:alice/y:push"),
    ("bob", "repository:team/a:pull,push,delete"),
    ("bob", "repository:alice/app:pull"),
    ("bob", "repository:bob/private/x:pull"),
    (None, "repository:public/x:pull,push"),
    (None, "repository:alice/app:pull"),
    (None, "registry:catalog:*"),
]


@pytest.fixture
def store(backend: MemoryBackend, hashes: Hashes) -> MemoryBackend:
    backend.create_user("bob", hashes.user)
    for group in ("devs", "ops", "off"):
        backend.create_group(group, enabled=group != "off")
    backend.add_member("devs", "alice")
    backend.add_member("off", "alice")
    backend.add_member("ops", "bob")
    for grant in GRANTS:
        backend.add_grant(grant)
    ensure_active_key(backend, now=datetime.now(UTC))
    return backend


def explain(client: falcon.testing.TestClient, user: str | None, scope: str) -> dict[str, Any]:
    query = f"scope={scope}" + (f"&user={user}" if user else "")
    result = client.simulate_get(f"{API}/explain", query_string=query, headers=ADMIN_AUTH)
    assert result.status_code == 200, result.text
    body: dict[str, Any] = result.json
    return body


def token_access(
    client: falcon.testing.TestClient, user: str | None, scope: str
) -> list[dict[str, Any]]:
    # alice and bob share a password hash in these fixtures.
    headers = basic(user, USER_PASSWORD) if user is not None else {}
    result = client.simulate_get(
        "/v2/token", query_string=f"service=registry.test&scope={scope}", headers=headers
    )
    assert result.status_code == 200, result.text
    bundle = client.simulate_get("/v2/certs/pem").content
    claims = verify_token(
        result.json["token"], bundle_pem=bundle, issuer="dockit-test", service="registry.test"
    )
    access: list[dict[str, Any]] = claims["access"]
    return access


@pytest.mark.parametrize(("user", "scope"), CASES)
def test_explain_matches_the_token(
    client: falcon.testing.TestClient, store: MemoryBackend, user: str | None, scope: str
) -> None:
    explained = explain(client, user, scope)
    access = token_access(client, user, scope)
    assert len(explained["scopes"]) == len(access)
    for scope_view, entry in zip(explained["scopes"], access, strict=True):
        assert (scope_view["type"], scope_view["name"]) == (entry["type"], entry["name"])
        granted = [a["action"] for a in scope_view["actions"] if a["granted"]]
        assert granted == entry["actions"]
        for action in scope_view["actions"]:
            assert bool(action["grants"]) == action["granted"]


def test_explain_names_the_grants_and_groups(
    client: falcon.testing.TestClient, store: MemoryBackend
) -> None:
    body = explain(client, "alice", "repository:team/x:pull,push")
    assert body["subject"] == "user:alice"
    assert body["groups"] == ["devs"]  # "off" is disabled and is not considered
    assert body["account"] == {"local": True, "enabled": True}
    (scope,) = body["scopes"]
    pull, push = scope["actions"]
    assert pull["granted"] is True
    assert [g["subject"] for g in pull["grants"]] == ["group:devs"]
    assert [g["scope"] for g in pull["grants"]] == ["repository:team/**:pull"]
    assert push == {"action": "push", "granted": False, "grants": []}


def test_explain_notes_disabled_and_unknown_users(
    client: falcon.testing.TestClient, store: MemoryBackend
) -> None:
    store.set_user_enabled("bob", False)
    body = explain(client, "bob", "repository:team/x:pull")
    assert body["account"] == {"local": True, "enabled": False}
    assert any("disabled" in note for note in body["notes"])
    body = explain(client, "carol", "repository:public/x:pull")
    assert body["account"] == {"local": False, "enabled": None}
    assert body["scopes"][0]["actions"][0]["granted"] is True  # anonymous grants apply


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("user=bob", "scope"),
        ("user=b%20b&scope=repository:a:pull", "user"),
        ("scope=repository:A:pull", None),
        ("scope=repository:a:pull&user=x&user=y", "user"),
        ("scope=repository:a:pull&bogus=1", "bogus"),
    ],
)
def test_explain_bad_input(
    client: falcon.testing.TestClient, store: MemoryBackend, query: str, field: str | None
) -> None:
    result = client.simulate_get(f"{API}/explain", query_string=query, headers=ADMIN_AUTH)
    assert result.status_code == 400, result.text
    (error,) = result.json["errors"]
    if field is not None:
        assert error["detail"]["field"] == field
    else:
        assert error["code"] == "SCOPE_INVALID"


def test_explain_needs_an_admin(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get(
        f"{API}/explain", query_string="scope=repository:a:pull", headers=USER_AUTH
    )
    assert result.status_code == 403


# -- robots and personal access tokens -----------------------------------------------------
def explain_query(client: falcon.testing.TestClient, query: str) -> falcon.testing.Result:
    return client.simulate_get(f"{API}/explain", query_string=query, headers=ADMIN_AUTH)


def test_explain_a_robot_counts_only_its_own_and_anonymous_grants(
    client: falcon.testing.TestClient, store: MemoryBackend, components: Components
) -> None:
    robot, _ = components.credentials.create_robot(
        "builder", "group:devs", actor=APP, expires=timedelta(days=1)
    )
    store.add_grant(Grant("robot:builder", "repository", "team/**", ("push",)))
    result = explain_query(
        client,
        "robot=builder&scope=repository:team/app:push&scope=repository:public/x:pull"
        "&scope=repository:alice/private/x:pull",
    )
    assert result.status_code == 200, result.text
    body = result.json
    assert body["subject"] == "robot:builder"
    assert body["credential"]["id"] == robot.id
    assert body["credential"]["kind"] == "robot"
    granted = [[a["action"] for a in s["actions"] if a["granted"]] for s in body["scopes"]]
    # its own push (push implies pull: only push was asked), anonymous' pull, and nothing
    # of authenticated's ${user} grant
    assert granted == [["push"], ["pull"], []]
    push_by = body["scopes"][0]["actions"][0]["grants"]
    assert [g["subject"] for g in push_by] == ["robot:builder"]
    components.credentials.set_robot_enabled("builder", False, actor=APP)
    notes = explain_query(client, "robot=builder&scope=repository:team/app:push").json["notes"]
    assert any("is disabled" in note for note in notes)


def test_explain_a_personal_token_narrows_its_owners_grants(
    client: falcon.testing.TestClient, store: MemoryBackend, components: Components
) -> None:
    token, _ = components.credentials.create_token(
        "alice", "laptop", actor=APP, scopes=["repository:team/**:pull", "repository:alice/*:*"]
    )
    scopes = "scope=repository:team/x:pull,push&scope=repository:alice/app:push,delete"
    result = explain_query(client, f"pat={token.id}&{scopes}")
    assert result.status_code == 200, result.text
    body = result.json
    assert body["subject"] == "user:alice"
    assert body["groups"] == ["devs"]
    assert body["credential"]["scopes"] == ["repository:team/**:pull", "repository:alice/*:*"]
    granted = [[a["action"] for a in s["actions"] if a["granted"]] for s in body["scopes"]]
    owner = explain(client, "alice", "repository:team/x:pull,push repository:alice/app:push,delete")
    owner_granted = [[a["action"] for a in s["actions"] if a["granted"]] for s in owner["scopes"]]
    assert owner_granted == [["pull"], ["push"]]  # alice: devs' pull, her own push
    assert granted == [["pull"], ["push"]]  # within the scopes: all of it here
    narrow, _ = components.credentials.create_token(
        "alice", "ci", actor=APP, scopes=["repository:team/**:pull"]
    )
    narrowed = explain_query(client, f"pat={narrow.id}&{scopes}").json
    assert [[a["action"] for a in s["actions"] if a["granted"]] for s in narrowed["scopes"]] == [
        ["pull"],
        [],
    ]
    assert any("narrowed to its scopes" in note for note in narrowed["notes"])


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("robot=nobody&scope=repository:a:pull", 404),
        ("pat=nope&scope=repository:a:pull", 404),
        ("robot=a&user=b&scope=repository:a:pull", 400),
    ],
)
def test_explain_credentials_bad_input(
    client: falcon.testing.TestClient, store: MemoryBackend, query: str, status: int
) -> None:
    assert explain_query(client, query).status_code == status


@pytest.mark.parametrize(
    "scope",
    [
        "repository:team/app:pull,push,delete",
        "repository:public/x:pull,push",
        "repository:alice/private/x:pull",
        "repository:alice/app:push",
    ],
)
def test_explaining_a_credential_matches_its_token(
    client: falcon.testing.TestClient, store: MemoryBackend, components: Components, scope: str
) -> None:
    """What explain says a robot or personal token gets is what its secret gets."""
    _, robot_secret = components.credentials.create_robot(
        "builder", "user:alice", actor=APP, expires=timedelta(days=1)
    )
    store.add_grant(Grant("robot:builder", "repository", "team/**", ("push",)))
    token, token_secret = components.credentials.create_token(
        "alice", "ci", actor=APP, scopes=["repository:team/**:pull", "repository:alice/*:push"]
    )
    for query, login in (
        ("robot=builder", ("builder", robot_secret)),
        (f"pat={token.id}", ("alice", token_secret)),
    ):
        answer_of_explain = explain_query(client, f"{query}&scope={scope}")
        assert answer_of_explain.status_code == 200, answer_of_explain.text
        explained = answer_of_explain.json
        answer = client.simulate_get(
            "/v2/token",
            query_string=f"service=registry.test&scope={scope}",
            headers=basic(login[0], login[1].reveal()),
        )
        assert answer.status_code == 200, answer.text
        bundle = client.simulate_get("/v2/certs/pem").content
        claims = verify_token(
            answer.json["token"], bundle_pem=bundle, issuer="dockit-test", service="registry.test"
        )
        granted = [a["action"] for a in explained["scopes"][0]["actions"] if a["granted"]]
        assert granted == claims["access"][0]["actions"], query
