"""Batched audit writes on the real server: token decisions leave the token path, reach the
log within ``audit.flush_seconds``, and a worker stopped normally writes what it still held."""

from __future__ import annotations

import time
from pathlib import Path

from libdockit.backends.sql.backend import SqlBackend
from tests.support.dockit import DockitServer

SERVICE = "registry.test"


def token_events(server: DockitServer) -> list[str]:
    """Request ids of the token decisions in the store, read behind the server's back."""
    with SqlBackend(f"sqlite:///{server.database_path}") as store:
        events = store.query_events(kind="token", limit=10_000).items
    return [event.request_id or "" for event in events]


def test_decisions_arrive_within_the_interval_and_none_is_lost_at_stop(tmp_path: Path) -> None:
    env = {"DOCKIT_AUDIT_FLUSH_SECONDS": "1"}
    with DockitServer(tmp_path, workers=2, extra_env=env) as server:
        server.create_user("alice", "alice-pw-1")
        answers = [server.token(SERVICE, [], ("alice", "alice-pw-1")) for _ in range(20)]
        assert {answer.status for answer in answers} == {200}
        # Within the interval (plus slack for a busy machine), without any read through the
        # API (which would write that worker's queue first), every decision is in the store.
        deadline = time.monotonic() + 10
        while len(token_events(server)) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(token_events(server)) == 20

    slow = {"DOCKIT_AUDIT_FLUSH_SECONDS": "60"}  # longer than the test: only the stop writes
    with DockitServer(tmp_path / "second", workers=2, extra_env=slow) as server:
        server.create_user("alice", "alice-pw-1")
        for _ in range(30):
            assert server.token(SERVICE, [], ("alice", "alice-pw-1")).status == 200
        assert len(token_events(server)) < 30  # still queued in the workers
        server.stop()  # SIGTERM to gunicorn's master: the workers exit normally
        assert len(token_events(server)) == 30
