"""BatchedAuditWriter and the Auditor's batched mode: nothing lost, nothing out of order, no
write on the caller's thread, a store outage survived, a child process never writes its
parent's queue, and a normal exit writes what is queued."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from libdockit.audit import Auditor, RequestInfo
from libdockit.audit_writer import BatchedAuditWriter
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.backends.sql.backend import SqlBackend
from libdockit.errors import BackendUnavailable
from libdockit.model import AuditEvent
from libdockit.testing.conformance import make_event

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FlakyStore(MemoryBackend):
    """A memory store that can be made to fail, and counts batch writes and their threads."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.batches: list[int] = []
        self.writer_threads: set[int] = set()

    def record_events(self, events: Sequence[AuditEvent]) -> int:
        import threading

        if self.down:
            raise BackendUnavailable("database is down")
        self.batches.append(len(events))
        self.writer_threads.add(threading.get_ident())
        return super().record_events(events)


def actions(store: MemoryBackend) -> list[str]:
    return [event.action for event in reversed(store.query_events(limit=1000).items)]


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_events_are_written_by_the_thread_within_the_interval() -> None:
    import threading

    store = FlakyStore()
    writer = BatchedAuditWriter(store, flush_seconds=0.05)
    for number in range(5):
        writer.submit(make_event(f"token.{number}", kind="token"))
    assert actions(store) == []  # nothing on the caller's thread
    assert wait_until(lambda: len(actions(store)) == 5)
    assert actions(store) == [f"token.{n}" for n in range(5)]
    assert threading.get_ident() not in store.writer_threads
    writer.close()


def test_a_full_batch_is_written_before_the_interval() -> None:
    store = FlakyStore()
    writer = BatchedAuditWriter(store, flush_seconds=60, batch_size=10, max_pending=100)
    for number in range(25):
        writer.submit(make_event(f"token.{number}", kind="token"))
    assert wait_until(lambda: len(actions(store)) >= 20)
    assert all(size <= 10 for size in store.batches)
    writer.flush()
    assert actions(store) == [f"token.{n}" for n in range(25)]
    writer.close()


def test_a_full_batch_wake_leaves_the_rest_for_the_next_batch_or_interval() -> None:
    """Woken by a full batch, the thread writes full batches only: the few events that came
    meanwhile wait (one commit for many), rather than a chase of small batches."""
    store = FlakyStore()
    writer = BatchedAuditWriter(store, flush_seconds=60, batch_size=10, max_pending=100)
    for number in range(25):
        writer.submit(make_event(f"token.{number}", kind="token"))
    assert wait_until(lambda: len(actions(store)) >= 20)
    time.sleep(0.1)  # time enough for the thread to write the rest, if it would
    assert store.batches == [10, 10]
    assert len(writer) == 5
    writer.flush()  # a reader (or the interval, or close) writes the rest
    assert store.batches == [10, 10, 5]
    assert actions(store) == [f"token.{n}" for n in range(25)]
    writer.close()


def test_events_keep_the_time_of_their_decision() -> None:
    store = MemoryBackend()
    now = [T0]
    writer = BatchedAuditWriter(store, flush_seconds=60, clock=lambda: now[0])
    writer.submit(make_event("token.issue", kind="token"))
    now[0] = T0 + timedelta(minutes=5)
    writer.flush()
    [event] = store.query_events().items
    assert event.at == T0
    writer.close()


def test_a_store_outage_keeps_the_events_and_they_are_written_afterwards() -> None:
    store = FlakyStore()
    store.down = True
    writer = BatchedAuditWriter(store, flush_seconds=60, batch_size=10, max_pending=10)
    for number in range(3):
        writer.submit(make_event(f"token.{number}", kind="token"))
    writer.flush()
    assert (actions(store), len(writer)) == ([], 3)
    store.down = False
    writer.submit(make_event("token.3", kind="token"))
    writer.flush()
    assert actions(store) == ["token.0", "token.1", "token.2", "token.3"]
    assert len(writer) == 0
    writer.close()


def test_beyond_max_pending_the_oldest_are_dropped_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore()
    store.down = True
    writer = BatchedAuditWriter(store, flush_seconds=60, batch_size=5, max_pending=5)
    for number in range(8):
        writer.submit(make_event(f"token.{number}", kind="token", detail={"who": "secret-x"}))
    with caplog.at_level(logging.WARNING, logger="dockit.audit"):
        writer.flush()
    assert len(writer) == 5
    assert "dropped the 3 oldest unwritten audit event(s)" in caplog.text
    assert "secret-x" not in caplog.text
    store.down = False
    writer.flush()
    assert actions(store) == [f"token.{n}" for n in range(3, 8)]
    writer.close()


def test_an_event_the_store_cannot_represent_does_not_take_the_batch_with_it() -> None:
    store = MemoryBackend()
    writer = BatchedAuditWriter(store, flush_seconds=60)
    writer.submit(make_event("token.0", kind="token"))
    writer.submit(make_event("token.bad", kind="token", detail={"x": {1, 2}}))
    writer.submit(make_event("token.2", kind="token"))
    writer.flush()
    assert actions(store) == ["token.0", "token.2"]
    writer.close()


def test_after_close_events_are_written_at_once() -> None:
    store = MemoryBackend()
    writer = BatchedAuditWriter(store, flush_seconds=60)
    writer.submit(make_event("token.0", kind="token"))
    writer.close()
    assert actions(store) == ["token.0"]
    writer.submit(make_event("token.1", kind="token"))
    assert actions(store) == ["token.0", "token.1"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_writes_only_its_own_events() -> None:
    store = MemoryBackend()
    writer = BatchedAuditWriter(store, flush_seconds=60)
    writer.submit(make_event("token.parent", kind="token"))
    pid = os.fork()
    if pid == 0:  # the child: its copy of the store must end up with its own event only
        code = 1
        try:
            writer.submit(make_event("token.child", kind="token"))
            writer.flush()
            code = 0 if actions(store) == ["token.child"] else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    writer.flush()
    assert actions(store) == ["token.parent"]
    writer.close()


def test_auditor_batches_token_decisions_but_writes_admin_changes_at_once() -> None:
    store = MemoryBackend()
    auditor = Auditor(store, flush_seconds=60)
    request = RequestInfo(client_address="127.0.0.1", request_id="r1")
    auditor.token_decision(
        actor="user:alice",
        service="registry",
        requested=["repository:a:pull"],
        granted=["repository:a:pull"],
        outcome="issued",
        request=request,
    )
    auditor.admin_change(
        actor="user:root",
        action="user.create",
        target="user:bob",
        before=None,
        after={},
        request=request,
    )
    assert actions(store) == ["user.create"]
    page = auditor.query()  # writes this process's queue first
    assert [event.action for event in page.items] == ["user.create", "token.issue"]
    auditor.close()


def test_a_normal_exit_writes_what_is_queued(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with SqlBackend(url) as backend:
        backend.migrate()
    script = f"""
from libdockit.audit import Auditor, RequestInfo
from libdockit.backends.sql.backend import SqlBackend
auditor = Auditor(SqlBackend({url!r}), flush_seconds=3600)
for number in range(250):
    auditor.token_decision(actor="user:alice", service="registry", requested=[str(number)],
        granted=[], outcome="issued", request=RequestInfo())
"""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert time.monotonic() - started < 30  # did not wait for the hour
    with SqlBackend(url) as backend:
        events = backend.query_events(limit=1000).items
    assert sorted(int(e.detail["requested"][0]) for e in events if e.detail) == list(range(250))


def test_backlog_and_drops_are_reported_for_metrics() -> None:
    store = FlakyStore()
    backlog: list[int] = []
    dropped: list[int] = []
    writer = BatchedAuditWriter(
        store,
        flush_seconds=60,
        batch_size=4,
        max_pending=4,
        on_backlog=backlog.append,
        on_dropped=dropped.append,
    )
    store.down = True
    for number in range(6):
        writer.submit(make_event(f"token.{number}", kind="token"))
    writer.flush()
    assert (backlog[-1], dropped) == (4, [2])  # 6 queued, 4 kept, 2 given up
    store.down = False
    writer.flush()
    assert backlog[-1] == 0
    assert actions(store) == [f"token.{n}" for n in range(2, 6)]
    writer.close()
