"""Names in audit targets are normalised like the names themselves, on a real
``dockit api-server``: changes made as a full-width ``BOB`` or ``BoB`` are found with
``--target user:bob`` (and with any spelling of it), through the API and the CLI."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from tests.client.helpers import run_cli
from tests.support.dockit import DockitServer, base_env

FULLWIDTH_BOB = "ＢＯＢ"


def test_targets_are_found_whatever_spelling_made_them(
    server: DockitServer, tmp_path: Path
) -> None:
    server.create_user("bob", "bob-strong-pw")
    server.create_group("devs")
    quoted = urllib.parse.quote(FULLWIDTH_BOB)
    server.admin("PATCH", f"/users/{quoted}", {"enabled": False}, expect=200)
    server.admin("PATCH", "/users/BoB", {"enabled": True}, expect=200)
    server.admin("PUT", f"/groups/DEVS/members/{quoted}", expect=200)

    for spelling in ("user:bob", "user:BOB", f"user:{FULLWIDTH_BOB}"):
        query = urllib.parse.urlencode({"target": spelling, "kind": "admin", "limit": 100})
        actions = [e["action"] for e in server.audit_events(query, at_least=3)]
        assert actions == ["user.update", "user.update", "user.create"], spelling
    groups = server.audit_events("target=group:devs&kind=admin", at_least=2)
    assert [e["action"] for e in groups] == ["group.member.add", "group.create"]

    env = {
        **base_env(tmp_path),
        "DOCKIT_URL": server.url,
        "DOCKIT_USERNAME": server.admin_username,
        "DOCKIT_PASSWORD": server.admin_password or "",
    }
    listed = run_cli(
        ["audit", "--target", "user:bob", "-o", "json"], env=env, cwd=tmp_path, stdin=""
    )
    assert listed.code == 0, listed
    assert [e["target"] for e in listed.json()] == ["user:bob"] * 3
