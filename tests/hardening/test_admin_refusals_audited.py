"""Refused Admin API attempts leave an audit record on a real ``dockit api-server``: a wrong
admin password (401) and a user without the admin flag (403), with the actor they claimed,
the action and target they attempted and the client address, never the password."""

from __future__ import annotations

import json

from tests.support.dockit import API, DockitServer

WRONG = "not-the-admin-password"


def test_refused_admin_attempts_are_recorded(server: DockitServer) -> None:
    server.create_user("carol", "carol-strong-pw")
    server.create_user("dave", "dave-strong-pw")
    body = {"username": "mallory", "password": "mallory-strong-pw", "admin": True}
    wrong = server.request("POST", API + "/users", creds=("admin", WRONG), json_body=body)
    assert wrong.status == 401
    denied = server.request(
        "PATCH", API + "/users/dave", creds=("carol", "carol-strong-pw"), json_body={"admin": True}
    )
    assert denied.status == 403
    listed = server.request("GET", API + "/users", creds=("Carol", "carol-strong-pw"))
    assert listed.status == 403
    nothing = server.request("GET", API + "/users")  # no credentials: nothing attempted
    assert nothing.status == 401

    events = server.audit_events("action=admin.refuse&limit=100", at_least=3)
    found = sorted(
        (e["actor"], e["detail"]["attempted"], e["target"], e["detail"]["status"]) for e in events
    )
    assert found == [
        ("user:admin", "user.create", API + "/users", 401),
        ("user:carol", "get /users", API + "/users", 403),
        ("user:carol", "user.update", "user:dave", 403),
    ]
    assert {e["kind"] for e in events} == {"admin"}
    assert {e["client_address"] for e in events} == {"127.0.0.1"}
    assert {e["detail"]["reason"] for e in events} == {"UNAUTHORIZED", "DENIED"}
    text = json.dumps(events)
    assert WRONG not in text
    assert "carol-strong-pw" not in text
    assert server.admin("GET", "/users/mallory").status == 404
