"""The audit log over SQL: the AuditStore of :class:`~libdockit.backends.sql.SqlBackend`.

Recording is an INSERT and an UPSERT of its kind's count in one transaction (a batch from
the token path's writer: multi-row INSERTs and one UPSERT per kind). The JSON
fields are text made by :func:`~libdockit.model.dump_json_object`. Listing is newest first
by ``at`` then ``id``, served by the ``at``, ``(actor, at)`` and ``(target, at)`` indexes.

Retention's count bound keeps the newest ``keep_last`` events of a kind by ``at`` then ``id``.
``audit_event_counts`` holds how many events of each kind the log has (every write and prune
here moves it in its own transaction), so the cut is found from the oldest end: a walk of
the events beyond the bound, about ``prune_every`` of them, on the ``(kind, at, id)`` index,
whatever the size of the log. Events deleted by hand leave the count too high, and a prune
then deletes that many more of the oldest: delete events through Dockit only.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache, reduce
from typing import Unpack

import peewee as pw

from ...clock import as_utc, utc_now
from ...errors import ValidationError
from ...model import AuditEvent, AuditFilter, Page, action_prefix, check_audit_filter
from .models import AuditEventRow
from .records import (
    EVENT_COLUMNS,
    event_fields,
    event_record,
    event_values,
    time_to_column,
    to_db,
)
from .session import SqlSession

_ROWS_PER_INSERT = 50  # 10 columns each: far below every SQLite's limit on parameters
_EVENT_FIELDS = tuple(AuditEventRow._meta.fields[name] for name in EVENT_COLUMNS)
_INSERT_EVENTS = (  # the model's own column names; values only ever go in as parameters
    'INSERT INTO "audit_events" ('  # noqa: S608
    + ", ".join(f'"{field.column_name}"' for field in _EVENT_FIELDS)
    + ") VALUES "
)
_ROW_MARKS = "(" + ", ".join("?" for _ in _EVENT_FIELDS) + ")"


@lru_cache(maxsize=_ROWS_PER_INSERT)
def _insert_events(rows: int) -> str:
    """The INSERT of ``rows`` events (built once per size: a full chunk, and the last)."""
    return _INSERT_EVENTS + ", ".join([_ROW_MARKS] * rows)


#: Every write and prune of the log moves its kind's count in the same transaction.
_COUNT_EVENTS = (
    'INSERT INTO "audit_event_counts" ("kind", "events") VALUES (?, ?) ON CONFLICT ("kind")'
    ' DO UPDATE SET "events" = "audit_event_counts"."events" + excluded."events"'
)
_EVENT_COUNTS = 'SELECT "kind", "events" FROM "audit_event_counts"'


def _event_params(events: Sequence[AuditEvent], *, text_time: bool) -> list[object]:
    """The values of every event's row (:func:`event_fields` after the time), one after
    another: what the multi-row INSERTs take. ``text_time``: the time as SQLite's text (see
    :func:`time_to_column`). An event without a time is recorded now."""
    now = utc_now()
    params: list[object] = []
    add = params.append
    extend = params.extend
    for event in events:
        add(time_to_column(now if event.at is None else event.at, text=text_time))
        extend(event_fields(event))
    return params


def _event_filter(where: AuditFilter) -> list[pw.Expression]:
    row = AuditEventRow
    clauses: list[pw.Expression] = []
    for column in (row.kind, row.actor, row.target):
        wanted = where.get(column.name)
        if wanted is not None:
            clauses.append(column == wanted)
    action, since, until = where.get("action"), where.get("since"), where.get("until")
    prefix = None if action is None else action_prefix(action)
    if prefix is not None:
        # SUBSTR rather than LIKE: no wildcards to escape, and case-sensitive in SQLite too.
        clauses.append(pw.fn.SUBSTR(row.action, 1, len(prefix)) == prefix)
    elif action is not None:
        clauses.append(row.action == action)
    if since is not None:
        clauses.append(row.at >= to_db(since))
    if until is not None:
        clauses.append(row.at < to_db(until))
    return clauses


class SqlAuditLog(SqlSession):
    """AuditStore."""

    def record_event(self, event: AuditEvent) -> AuditEvent:
        at = utc_now() if event.at is None else as_utc(event.at)
        values = event_values(event, at)  # a ValidationError before anything is sent
        with self._session(write=True) as db:  # the event and its kind's count
            event_id = AuditEventRow.insert(**values).execute(db)
            self._rows(db, _COUNT_EVENTS, (values["kind"], 1))
        return replace(event, at=at, id=int(event_id))

    def record_events(self, events: Sequence[AuditEvent]) -> int:
        """Hand-written multi-row INSERTs in one transaction: the batched writer sends every
        token decision through here, and building the statement with peewee cost more than
        running it."""
        if not events:
            return 0
        params = _event_params(events, text_time=not self._postgres)
        width = len(EVENT_COLUMNS)
        step = _ROWS_PER_INSERT * width
        with self._session(write=True) as db:  # one transaction, one commit
            cursor = db.cursor()  # type: ignore[no-untyped-call]
            try:
                for start in range(0, len(params), step):
                    chunk = params[start : start + step]
                    self._execute(cursor, _insert_events(len(chunk) // width), chunk)
                for kind, added in sorted(Counter(e.kind for e in events).items()):
                    self._execute(cursor, _COUNT_EVENTS, (kind, added))
            finally:
                cursor.close()
        return len(events)

    def query_events(
        self, *, offset: int = 0, limit: int = 100, **where: Unpack[AuditFilter]
    ) -> Page[AuditEvent]:
        clauses = _event_filter(check_audit_filter(where))
        with self._session() as db:
            query = AuditEventRow.select()
            if clauses:
                query = query.where(*clauses)
            total = query.count(db)
            page = query.order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc())
            rows = page.offset(max(offset, 0)).limit(max(limit, 0)).bind(db)
            return Page([event_record(r) for r in rows], total)

    def prune_events(
        self,
        *,
        before: datetime | None = None,
        keep_last: int | None = None,
        kind: str | None = None,
    ) -> int:
        if keep_last is not None and keep_last < 0:
            raise ValidationError("keep_last", "must be 0 or more")
        if before is None and keep_last is None:
            return 0
        row = AuditEventRow
        with self._session(write=True) as db:
            counts: dict[str, int] = {k: int(n) for k, n in self._rows(db, _EVENT_COUNTS)}
            kinds = sorted(counts) if kind is None else [kind]
            doomed: list[pw.Expression] = []
            bounds: list[datetime] = []
            if before is not None:
                doomed.append(row.at < to_db(before))
                bounds.append(to_db(before))
            held = sum(counts.get(k, 0) for k in kinds)
            if keep_last is not None and held > keep_last:
                # The newest event beyond the kept ones; it and everything older goes.
                oldest_first = row.select(row.at, row.id).order_by(row.at, row.id)
                if kind is not None:
                    oldest_first = oldest_first.where(row.kind == kind)
                # (Not get_or_none: it would reset the offset.)
                found = list(oldest_first.offset(held - keep_last - 1).limit(1).bind(db))
                if found:
                    cut = found[0]
                    doomed.append((row.at < cut.at) | ((row.at == cut.at) & (row.id <= cut.id)))
                    bounds.append(cut.at)
            if not doomed:
                return 0
            # The range on ``at`` lets the (kind, at, id) index serve the DELETE.
            condition = reduce(operator.or_, doomed) & (row.at <= max(bounds))
            deleted = 0
            for each in kinds:  # one kind at a time: each count moves by what it lost
                gone = int(row.delete().where((row.kind == each) & condition).execute(db))
                if gone:
                    self._rows(db, _COUNT_EVENTS, (each, -gone))
                deleted += gone
            return deleted
