"""Write audit events in batches from a background thread, off the token path.

Every token decision is an audit event, and a CI pull storm asks for hundreds of tokens a
second: one INSERT and commit each would cost the token path more than everything else it
does. :class:`BatchedAuditWriter` takes an event in microseconds (it is stamped with the time
of the decision then) and a thread writes what has gathered every ``flush_seconds`` in one
transaction (:meth:`~libdockit.backends.base.AuditStore.record_events`), sooner when
``batch_size`` events are waiting.

What this trades: an event reaches the store up to ``flush_seconds`` after its request (a
reader in the same process calls :meth:`flush` first, so it never misses its own events),
and a process killed with SIGKILL loses at most that much. A normal exit writes everything
(:meth:`close` runs at interpreter exit, which is how gunicorn workers leave). A store that
cannot answer keeps the events queued and retried; beyond ``max_pending`` the oldest are
dropped, and the log says how many, never what.

Fork-safe: the thread starts with the first event in each process, and a child never writes
the events its parent had queued (the parent does).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace

from .backends.base import AuditStore
from .clock import Clock, utc_now
from .errors import DockitError, ValidationError
from .model import AuditEvent
from .process import current_pid

log = logging.getLogger("dockit.audit")


class BatchedAuditWriter:
    def __init__(
        self,
        store: AuditStore,
        *,
        flush_seconds: float = 1.0,
        batch_size: int = 500,
        max_pending: int = 100_000,
        on_written: Callable[[int], None] | None = None,
        on_backlog: Callable[[int], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """``on_written(n)`` after n events were written; ``on_backlog(n)`` after each write
        attempt with the events still queued (0 while the store keeps up); ``on_dropped(n)``
        when n events were given up (for metrics)."""
        if flush_seconds <= 0 or batch_size <= 0 or max_pending < batch_size:
            raise ValueError("flush_seconds and batch_size must be positive, max_pending >= both")
        self._store = store
        self._interval = flush_seconds
        self._batch = batch_size
        self._max_pending = max_pending
        self._on_written = on_written
        self._on_backlog = on_backlog
        self._on_dropped = on_dropped
        self._clock = clock
        self._pending: deque[AuditEvent] = deque()
        self._write_lock = threading.Lock()  # one batch at a time, in order
        self._wake = threading.Event()
        self._closed = False
        self._pid: int | None = None
        self._thread: threading.Thread | None = None

    def submit(self, event: AuditEvent) -> None:
        """Queue ``event`` (stamped now unless it has a time) for the next batch."""
        if not self._mine():
            self._start()
        self._pending.append(event if event.at is not None else replace(event, at=self._clock()))
        if self._closed:
            self.flush()
        elif len(self._pending) >= self._batch and not self._wake.is_set():
            self._wake.set()  # once: until the thread runs, every submit would notify it again

    def flush(self) -> None:
        """Write everything queued so far (in this process) before returning, if the store
        takes it; a store that cannot answer leaves the events queued."""
        while self._pending and self._write_batch():
            pass

    def close(self) -> None:
        """Write what is queued and stop the thread; later events are written at once."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._mine():
            thread.join(timeout=10)
        self.flush()

    def __len__(self) -> int:
        return len(self._pending)

    # -- the thread -------------------------------------------------------------------------
    def _mine(self) -> bool:
        return self._pid == current_pid()

    def _start(self) -> None:
        """First event in this process: drop a parent's queue, start this process's thread."""
        with _start_lock[0]:
            if self._mine():
                return
            self._pending.clear()  # the parent process writes its own events
            self._write_lock = threading.Lock()  # a parent's thread may have held it at fork
            self._wake = threading.Event()
            self._pid = current_pid()
            if not self._closed:
                self._thread = threading.Thread(
                    target=_run, args=(weakref.ref(self),), name="dockit-audit", daemon=True
                )
                self._thread.start()
            _open_writers.add(self)

    def _write_batch(self) -> bool:
        """Write up to ``batch_size`` queued events; False when the store failed."""
        with self._write_lock:
            batch: list[AuditEvent] = []
            while self._pending and len(batch) < self._batch:
                batch.append(self._pending.popleft())
            if not batch:
                return True
            try:
                written = self._record(batch)
            except DockitError as exc:
                self._pending.extendleft(reversed(batch))  # back at the front, in order
                self._drop_beyond_limit()
                log.warning("could not write %d audit event(s): %s", len(batch), exc.code)
                self._report_backlog()
                return False
        if self._on_written is not None and written:
            self._on_written(written)
        self._report_backlog()
        return True

    def _report_backlog(self) -> None:
        if self._on_backlog is not None:
            self._on_backlog(len(self._pending))

    def _record(self, batch: Sequence[AuditEvent]) -> int:
        try:
            return self._store.record_events(batch)
        except ValidationError:
            pass  # one event the store cannot represent: write the others one by one
        written = 0
        for event in batch:
            try:
                self._store.record_event(event)
                written += 1
            except ValidationError as exc:
                log.warning("dropped audit event %s: %s", event.action, exc.message)
        return written

    def _drop_beyond_limit(self) -> None:
        dropped = 0
        while len(self._pending) > self._max_pending:
            self._pending.popleft()
            dropped += 1
        if dropped:
            log.error("dropped the %d oldest unwritten audit event(s): the store is down", dropped)
            if self._on_dropped is not None:
                self._on_dropped(dropped)


def _run(ref: weakref.ReferenceType[BatchedAuditWriter]) -> None:
    """The writer thread: wake every interval and write everything, or when a batch is
    full and write the full batches."""
    while True:
        writer = ref()
        if writer is None or not writer._mine():
            return
        wake, interval = writer._wake, writer._interval
        del writer  # hold no reference while asleep
        full = wake.wait(interval)  # set: a full batch is waiting (or the writer closed)
        wake.clear()
        writer = ref()
        if writer is None:
            return
        if full and not writer._closed:
            # Full batches only: what comes in meanwhile waits for the next batch or the
            # interval, instead of a chase of small batches (each its own transaction and
            # commit, and each contending with the requests for the GIL).
            while len(writer._pending) >= writer._batch and writer._write_batch():
                pass
        else:
            while writer._pending and writer._write_batch():
                pass
        if writer._closed:
            return
        del writer


_start_lock = [threading.Lock()]  # replaced in a child: another thread may hold it at fork
os.register_at_fork(after_in_child=lambda: _start_lock.__setitem__(0, threading.Lock()))
_open_writers: weakref.WeakSet[BatchedAuditWriter] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Write what every writer of this process still holds (gunicorn workers exit here)."""
    for writer in list(_open_writers):
        if writer._mine():
            writer.close()
