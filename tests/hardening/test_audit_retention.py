"""Admin history cannot be evicted by anonymous traffic, on a real ``dockit api-server``:
``audit.max_events`` bounds token events only; admin changes have bounds of their own."""

from __future__ import annotations

from pathlib import Path

from tests.support.dockit import DockitServer

#: Retention runs after every 1000 events a worker writes (Retention.prune_every).
FLOOD = 1100


def test_anonymous_token_requests_do_not_push_admin_changes_out(tmp_path: Path) -> None:
    env = {"DOCKIT_AUDIT_MAX_EVENTS": "20", "DOCKIT_AUDIT_FLUSH_SECONDS": "0"}
    with DockitServer(tmp_path, workers=1, extra_env=env) as server:
        for name in ("carol", "dave", "erin"):
            server.create_user(name, f"{name}-strong-pw")
        for n in range(FLOOD):
            assert server.token("registry.test", [f"repository:flood/r{n % 50}:pull"]).status == 200
        admin = server.admin("GET", "/audit?kind=admin&limit=100", expect=200).json()
        created = sorted(e["target"] for e in admin["items"] if e["action"] == "user.create")
        # The first admin, made at start (by system:startup), is kept as well.
        assert created == ["user:admin", "user:carol", "user:dave", "user:erin"]
        tokens = server.admin("GET", "/audit?kind=token&limit=1", expect=200).json()
        assert 0 < tokens["total"] < FLOOD  # the token events were bounded all the same
