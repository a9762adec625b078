"""The audit log through the real app: admin changes, token decisions, queries, retention."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import falcon.testing
import pytest

from dockit_server.app import create_app
from dockit_server.components import Components
from libdockit.audit import Auditor, RequestInfo, Retention
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import BackendUnavailable
from libdockit.keys.ring import ensure_active_key
from libdockit.model import AuditEvent
from libdockit.passwords import PasswordHasher
from libdockit.service import TokenService
from libdockit.tokens import TokenSigner

from .conftest import ADMIN_AUTH, ADMIN_PASSWORD, API, USER_AUTH, USER_PASSWORD, basic


@pytest.fixture(autouse=True)
def signing_key(backend: MemoryBackend) -> None:
    ensure_active_key(backend, now=datetime.now(UTC))


def events(client: falcon.testing.TestClient, query: str = "") -> list[dict[str, Any]]:
    result = client.simulate_get(f"{API}/audit", query_string=query, headers=ADMIN_AUTH)
    assert result.status_code == 200, result.text
    items: list[dict[str, Any]] = result.json["items"]
    return items


def admin_events(client: falcon.testing.TestClient) -> list[dict[str, Any]]:
    return list(reversed(events(client, "kind=admin")))


def test_user_life_cycle_is_recorded(client: falcon.testing.TestClient) -> None:
    secret = "bob-first-password"
    client.simulate_post(
        f"{API}/users", headers=ADMIN_AUTH, json={"username": "bob", "password": secret}
    )
    client.simulate_patch(f"{API}/users/bob", headers=ADMIN_AUTH, json={"enabled": False})
    client.simulate_put(
        f"{API}/users/bob/password", headers=ADMIN_AUTH, json={"password": "bob-second-pw"}
    )
    client.simulate_delete(f"{API}/users/bob", headers=ADMIN_AUTH)
    create, update, password, delete = admin_events(client)
    assert (create["action"], create["actor"], create["target"]) == (
        "user.create",
        "user:root",
        "user:bob",
    )
    assert create["before"] is None
    assert create["after"]["username"] == "bob"
    assert update["action"] == "user.update"
    assert update["before"]["enabled"] is True
    assert update["after"]["enabled"] is False
    assert (password["action"], password["before"], password["after"]) == (
        "user.password",
        None,
        None,
    )
    assert delete["action"] == "user.delete"
    assert delete["before"]["username"] == "bob"
    assert delete["after"] is None
    assert all(e["request_id"] and len(e["request_id"]) == 32 for e in (create, delete))
    everything = json.dumps(events(client))
    assert secret not in everything
    assert "bob-second-pw" not in everything
    assert ADMIN_PASSWORD not in everything


def test_groups_grants_and_keys_are_recorded(client: falcon.testing.TestClient) -> None:
    client.simulate_post(f"{API}/groups", headers=ADMIN_AUTH, json={"name": "devs"})
    client.simulate_put(f"{API}/groups/devs/members/alice", headers=ADMIN_AUTH)
    grant = client.simulate_post(
        f"{API}/grants",
        headers=ADMIN_AUTH,
        json={"subject": "group:devs", "scope": "repository:team/*:pull"},
    ).json
    client.simulate_delete(f"{API}/grants/{grant['id']}", headers=ADMIN_AUTH)
    key = client.simulate_post(f"{API}/keys", headers=ADMIN_AUTH, json={}).json
    client.simulate_post(f"{API}/keys/{key['kid']}/activate", headers=ADMIN_AUTH)
    recorded = [(e["action"], e["target"]) for e in admin_events(client)]
    assert recorded == [
        ("group.create", "group:devs"),
        ("group.member.add", "group:devs"),
        ("grant.create", f"grant:{grant['id']}"),
        ("grant.delete", f"grant:{grant['id']}"),
        ("key.create", f"key:{key['kid']}"),
        ("key.activate", f"key:{key['kid']}"),
    ]
    member_add = admin_events(client)[1]
    assert member_add["before"]["members"] == []
    assert member_add["after"]["members"] == ["alice"]
    activation = admin_events(client)[-1]
    assert (activation["before"]["state"], activation["after"]["state"]) == ("pending", "active")


def test_failed_or_unauthorised_changes_are_not_recorded(
    client: falcon.testing.TestClient,
) -> None:
    client.simulate_post(f"{API}/users", headers=ADMIN_AUTH, json={"username": "alice"})  # 400
    client.simulate_post(
        f"{API}/users", headers=ADMIN_AUTH, json={"username": "alice", "password": "x-12345"}
    )  # 409
    client.simulate_delete(f"{API}/users/alice", headers=USER_AUTH)  # 403
    client.simulate_delete(f"{API}/users/alice", headers=basic("root", "wrong"))  # 401
    client.simulate_get(f"{API}/users", headers=ADMIN_AUTH)  # a read
    changes = [e for e in admin_events(client) if e["action"] != "admin.refuse"]
    assert changes == []
    refused = [(e["actor"], e["detail"]["status"]) for e in admin_events(client)]
    assert sorted(refused) == [("user:alice", 403), ("user:root", 401)]


def test_token_decisions_are_recorded(client: falcon.testing.TestClient) -> None:
    client.simulate_post(
        f"{API}/grants",
        headers=ADMIN_AUTH,
        json={"subject": "user:alice", "scope": "repository:alice/*:pull,push"},
    )
    client.simulate_get(
        "/v2/token",
        query_string="service=reg&scope=repository:alice/x:pull,push,delete&scope=repository:b:pull",
        headers=USER_AUTH,
    )
    client.simulate_get("/v2/token", query_string="service=reg", headers=basic("alice", "nope"))
    client.simulate_get("/v2/token", query_string="service=reg&scope=bad", headers=USER_AUTH)
    client.simulate_get("/v2/token", query_string="service=reg&scope=repository:p:pull")
    issued, refused, invalid, anonymous = reversed(events(client, "kind=token"))
    assert issued["actor"] == "user:alice"
    assert issued["action"] == "token.issue"
    assert issued["target"] == "reg"
    assert issued["detail"]["requested"] == [
        "repository:alice/x:pull,push,delete",
        "repository:b:pull",
    ]
    assert issued["detail"]["granted"] == ["repository:alice/x:pull,push"]
    assert (refused["action"], refused["actor"]) == ("token.refuse", "user:alice")
    assert refused["detail"]["reason"] == "UNAUTHORIZED"
    assert refused["detail"]["granted"] is None
    assert invalid["detail"]["reason"] == "SCOPE_INVALID"
    assert invalid["detail"]["message"] == "scope 'bad' is not of the form type:name:actions"
    assert "message" not in issued["detail"]
    assert {event["detail"]["method"] for event in (issued, refused, invalid)} == {"GET"}
    assert "grant_type" not in issued["detail"]
    assert anonymous["actor"] == "anonymous"
    assert anonymous["detail"]["granted"] == []
    text = json.dumps(events(client))
    assert USER_PASSWORD not in text
    assert '"nope"' not in text


def test_queries_filter_and_page(client: falcon.testing.TestClient) -> None:
    for name in ("u1", "u2", "u3"):
        client.simulate_post(
            f"{API}/users", headers=ADMIN_AUTH, json={"username": name, "password": "pw-123456"}
        )
    client.simulate_post(f"{API}/groups", headers=ADMIN_AUTH, json={"name": "g1"})
    assert [e["target"] for e in events(client, "action=user.*")] == [
        "user:u3",
        "user:u2",
        "user:u1",
    ]
    assert [e["action"] for e in events(client, "action=group.create")] == ["group.create"]
    assert len(events(client, "actor=user:root&kind=admin")) == 4
    assert events(client, "target=user:u2")[0]["action"] == "user.create"
    page = client.simulate_get(
        f"{API}/audit", query_string="kind=admin&limit=2&offset=1", headers=ADMIN_AUTH
    ).json
    assert page["total"] == 4
    assert [e["target"] for e in page["items"]] == ["user:u3", "user:u2"]
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert events(client, f"since={future}") == []
    assert len(events(client, f"until={future}&kind=admin")) == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=other", "kind"),
        ("since=yesterday", "since"),
        ("until=2024-01-01T00:00:00", "until"),
        ("limit=0", "limit"),
        ("colour=red", "colour"),
    ],
)
def test_bad_queries(client: falcon.testing.TestClient, query: str, field: str) -> None:
    result = client.simulate_get(f"{API}/audit", query_string=query, headers=ADMIN_AUTH)
    assert result.status_code == 400
    assert result.json["errors"][0]["detail"]["field"] == field


def test_retention_bounds_the_log(backend: MemoryBackend) -> None:
    retention = Retention(admin_days=None, admin_max_events=3, prune_every=2)
    auditor = Auditor(backend, retention=retention)
    for number in range(7):
        auditor.admin_change(
            actor="user:root",
            action="user.create",
            target=f"user:u{number}",
            before=None,
            after=None,
            request=_request(),
        )
    remaining = [e.target for e in backend.query_events().items]
    assert len(remaining) <= 4
    assert remaining[:3] == ["user:u6", "user:u5", "user:u4"]


def test_query_refuses_an_unknown_filter(backend: MemoryBackend) -> None:
    with pytest.raises(TypeError, match="actr"):
        Auditor(backend).query(**{"actr": "alice"})  # type: ignore[arg-type]


def test_retention_by_age(backend: MemoryBackend) -> None:
    now = datetime.now(UTC)
    backend.record_event(AuditEvent("admin", "user:root", "old", at=now - timedelta(days=40)))
    backend.record_event(AuditEvent("admin", "user:root", "new", at=now))
    assert Auditor(backend, retention=Retention(admin_days=30)).prune() == 1
    assert [e.action for e in backend.query_events().items] == ["new"]


class BrokenAuditStore:
    def record_event(self, event: AuditEvent) -> AuditEvent:
        raise BackendUnavailable("audit store down")

    def record_events(self, events: Sequence[AuditEvent]) -> int:
        raise BackendUnavailable("audit store down")

    def query_events(self, **kwargs: Any) -> Any:
        raise BackendUnavailable("audit store down")

    def prune_events(self, **kwargs: Any) -> int:
        raise BackendUnavailable("audit store down")


def test_a_broken_audit_store_does_not_break_requests(
    components: Components,
    backend: MemoryBackend,
    hasher: PasswordHasher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    audit = Auditor(BrokenAuditStore())
    tokens = TokenService(
        authenticator=LocalAuthenticator(backend, hasher),
        grants=backend,
        keys=components.tokens.keys,
        signer=TokenSigner("dockit-test"),
        audit=audit,
    )
    broken = Components(
        tokens=tokens,
        admin=components.admin,
        health=components.health,
        key_manager=components.key_manager,
        credentials=components.credentials,
        audit=audit,
    )
    client = falcon.testing.TestClient(create_app(broken))
    caplog.set_level(logging.WARNING, logger="dockit.audit")
    result = client.simulate_get("/v2/token", query_string="service=reg", headers=USER_AUTH)
    assert result.status_code == 200
    assert "could not record audit event token.issue" in caplog.text
    assert client.simulate_get(f"{API}/audit", headers=ADMIN_AUTH).status_code == 503


def _request() -> RequestInfo:
    return RequestInfo(client_address="127.0.0.1", request_id="r")


def test_post_token_decisions_and_revocations_are_recorded(
    client: falcon.testing.TestClient,
) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    client.simulate_post(
        "/v2/token",
        headers=form,
        body="grant_type=password&service=reg&client_id=t&username=alice&password=wrong"
        "&scope=repository:alice/x:pull",
    )
    client.simulate_post(
        "/v2/token",
        headers=form,
        body=f"grant_type=password&service=reg&client_id=t&username=alice&password={USER_PASSWORD}"
        "&scope=repository:alice/x:pull&access_type=offline",
    )
    client.simulate_post("/v2/token", headers=form, body="service=reg&client_id=t")
    refused, issued, malformed = reversed(events(client, "kind=token"))
    assert (refused["action"], refused["actor"]) == ("token.refuse", "user:alice")
    assert refused["detail"]["requested"] == ["repository:alice/x:pull"]
    assert refused["detail"]["message"] == "invalid username or password"
    assert issued["action"] == "token.issue"
    for event in (refused, issued):
        assert (event["detail"]["method"], event["detail"]["grant_type"]) == ("POST", "password")
    # Refused before a grant type was read: the code and the message say why.
    assert malformed["detail"]["method"] == "POST"
    assert "grant_type" not in malformed["detail"]
    assert malformed["detail"]["reason"] == "INVALID_REQUEST"
    assert malformed["detail"]["message"] == "the 'grant_type' field is required"
    client.simulate_delete(f"{API}/users/alice/refresh-tokens", headers=ADMIN_AUTH)
    (revoke,) = admin_events(client)
    assert (revoke["action"], revoke["target"]) == ("user.refresh_tokens.revoke", "user:alice")
    assert "dkr_" not in json.dumps(events(client))
