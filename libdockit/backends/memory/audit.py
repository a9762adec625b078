"""The in-memory audit log: the AuditStore of :class:`~libdockit.backends.memory.MemoryBackend`,
usable on its own too.

Events keep their ``before``/``after``/``detail`` as the same JSON text the SQL backend
stores, and decode it on every read: what comes back is the JSON round trip, and a caller
mutating a returned dict cannot change the log.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Unpack

from ...clock import as_utc
from ...errors import ValidationError
from ...model import (
    AuditEvent,
    AuditFilter,
    Page,
    action_prefix,
    check_audit_filter,
    dump_json_object,
    load_json_object,
)


@dataclass(frozen=True, slots=True)
class _StoredEvent:
    event: AuditEvent  # with at and id set, and the JSON fields None
    at: datetime
    before: str | None
    after: str | None
    detail: str | None

    @property
    def newness(self) -> tuple[datetime, int]:
        """Sort key: the largest is the newest (``at``, then ``id``)."""
        return self.at, self.event.id or 0

    def record(self) -> AuditEvent:
        return replace(
            self.event,
            before=load_json_object(self.before),
            after=load_json_object(self.after),
            detail=load_json_object(self.detail),
        )


def _matches(stored: _StoredEvent, where: AuditFilter) -> bool:
    event = stored.event
    for name in ("kind", "actor", "target"):
        wanted = where.get(name)
        if wanted is not None and getattr(event, name) != wanted:
            return False
    action, since, until = where.get("action"), where.get("since"), where.get("until")
    if action is not None:
        prefix = action_prefix(action)
        if not (event.action.startswith(prefix) if prefix is not None else event.action == action):
            return False
    if since is not None and stored.at < as_utc(since):
        return False
    return until is None or stored.at < as_utc(until)


class MemoryAuditLog:
    """AuditStore in memory, thread-safe."""

    def __init__(self) -> None:
        self._audit_lock = threading.RLock()  # record_events holds it around record_event
        self._events: list[_StoredEvent] = []  # in recording order
        self._next_event_id = 1

    def record_events(self, events: Sequence[AuditEvent]) -> int:
        for event in events:  # checked first: all or nothing
            for name in ("before", "after", "detail"):
                dump_json_object(name, getattr(event, name))
        with self._audit_lock:
            for event in events:
                self.record_event(event)
        return len(events)

    def record_event(self, event: AuditEvent) -> AuditEvent:
        at = datetime.now(UTC) if event.at is None else as_utc(event.at)
        before = dump_json_object("before", event.before)
        after = dump_json_object("after", event.after)
        detail = dump_json_object("detail", event.detail)
        with self._audit_lock:
            event_id = self._next_event_id
            self._next_event_id += 1
            bare = replace(event, before=None, after=None, detail=None, at=at, id=event_id)
            self._events.append(_StoredEvent(bare, at, before, after, detail))
        return replace(event, at=at, id=event_id)

    def _newest_first(self) -> list[_StoredEvent]:
        return sorted(self._events, key=lambda stored: stored.newness, reverse=True)

    def query_events(
        self, *, offset: int = 0, limit: int = 100, **where: Unpack[AuditFilter]
    ) -> Page[AuditEvent]:
        check_audit_filter(where)
        with self._audit_lock:
            found = [stored for stored in self._newest_first() if _matches(stored, where)]
        start = max(offset, 0)
        page = found[start : start + max(limit, 0)]
        return Page([stored.record() for stored in page], len(found))

    def prune_events(
        self,
        *,
        before: datetime | None = None,
        keep_last: int | None = None,
        kind: str | None = None,
    ) -> int:
        if keep_last is not None and keep_last < 0:
            raise ValidationError("keep_last", "must be 0 or more")
        with self._audit_lock:
            newest_first = self._newest_first()
            others = [s for s in newest_first if kind is not None and s.event.kind != kind]
            subject = [s for s in newest_first if kind is None or s.event.kind == kind]
            kept = subject if keep_last is None else subject[:keep_last]
            if before is not None:
                cutoff = as_utc(before)
                kept = [stored for stored in kept if stored.at >= cutoff]
            deleted = len(subject) - len(kept)
            self._events = sorted([*kept, *others], key=lambda stored: stored.event.id or 0)
            return deleted
