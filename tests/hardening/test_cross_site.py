"""Cross-site requests cannot change Dockit, on a real ``dockit api-server``: what a web
page can make an admin's browser send (Basic credentials cached) is refused, 415 or 403,
and changes nothing; the ``dockit`` CLI and curl-style JSON requests still work."""

from __future__ import annotations

import json
from pathlib import Path

from tests.client.helpers import run_cli
from tests.support.dockit import API, DockitServer, base_env, basic_auth, http_request

from .rawhttp import send_raw

EVIL = "http://evil.example"
NEW_ADMIN = {"username": "mallory", "password": "mallory-strong-pw", "admin": True}


def send(server: DockitServer, method: str, path: str, body: bytes | None, **headers: str) -> int:
    all_headers = {"Authorization": basic_auth(server.admin_creds), **headers}
    return http_request(
        server.url + API + path, method=method, headers=all_headers, body=body
    ).status


def test_what_a_page_can_send_is_refused(server: DockitServer, tmp_path: Path) -> None:
    pending = server.admin("POST", "/keys", {}, expect=201).json()["kid"]
    body = json.dumps(NEW_ADMIN).encode()
    # fetch(url, {method: "POST", body, mode: "no-cors", credentials: "include"}): text/plain
    assert send(server, "POST", "/users", body, **{"Content-Type": "text/plain"}) == 415
    # ... or with the Content-Type left out (raw: urllib would add a form type).
    auth = (b"Authorization", basic_auth(server.admin_creds).encode())
    bare = send_raw("127.0.0.1", server.port, b"POST", f"{API}/users".encode(), [auth], body)
    assert bare.status == 415
    # <form method=post action=.../keys/KID/activate>: an empty urlencoded body.
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": EVIL}
    assert send(server, "POST", f"/keys/{pending}/activate", b"", **form) in (403, 415)
    plain_form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert send(server, "POST", f"/keys/{pending}/activate", b"", **plain_form) == 415
    # Writes a browser marks as coming from another site, JSON or not.
    marked = {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}
    assert send(server, "POST", "/users", body, **marked) == 403
    assert send(server, "POST", f"/keys/{pending}/activate", None, **{"Origin": EVIL}) == 403
    assert send(server, "DELETE", "/users/admin", None, **{"Origin": "null"}) == 403
    # Nothing changed.
    assert server.admin("GET", "/users/mallory").status == 404
    key = server.admin("GET", f"/keys/{pending}", expect=200).json()
    assert key["state"] == "pending"
    refused = server.audit_events("action=admin.refuse", at_least=3)
    assert {(e["actor"], e["detail"]["status"]) for e in refused} == {("user:admin", 403)}

    # A page on the same origin, the CLI and plain JSON requests still work.
    same = {
        "Content-Type": "application/json",
        "Origin": server.url,
        "Sec-Fetch-Site": "same-origin",
    }
    good = {"username": "carol", "password": "carol-strong-pw"}
    assert send(server, "POST", "/users", json.dumps(good).encode(), **same) == 201
    assert send(server, "PUT", "/groups/devs/members/carol", None) in (200, 404)
    env = {
        **base_env(tmp_path),
        "DOCKIT_URL": server.url,
        "DOCKIT_USERNAME": server.admin_username,
        "DOCKIT_PASSWORD": server.admin_password or "",
    }
    for args, stdin in (
        (["group", "add", "devs"], ""),
        (["group", "add-member", "devs", "carol"], ""),
        (["user", "add", "dave", "--password-stdin"], "dave-strong-pw\n"),
        (["keys", "activate", pending], ""),
        (["user", "delete", "dave", "--yes"], ""),
    ):
        done = run_cli(args, env=env, cwd=tmp_path, stdin=stdin)
        assert done.code == 0, (args, done)
    assert server.admin("GET", f"/keys/{pending}", expect=200).json()["state"] == "active"
