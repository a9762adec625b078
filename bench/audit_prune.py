"""Audit retention's count bound: what one prune at the bound costs, by the size of the log.

``python3 -m bench.audit_prune [--sizes 10000,100000,1000000] [--rounds 7] [--no-postgres]``:
for each size N, a log of N token events and 1,000 admin events, on SQLite (a file) and on
a throw-away PostgreSQL cluster. Each round records ``prune_every`` (1,000) more token events
in one batch, then prunes to ``keep_last=N`` as the Auditor does past the bound, so every
prune deletes 1,000 events. Three ways, each on its own copy of the same log:

- ``before``: schema version 8 and its prune, reproduced here: the cut is found by skipping
  the newest N events by time (OFFSET N), on the ``at`` index;
- ``index``: the same walk with the ``(kind, at, id)`` index of version 9 (an index-only
  skip, still N entries);
- ``after``: :meth:`SqlBackend.prune_events`, the cut found from the oldest end with the
  counts of ``audit_event_counts``.

Prints the median milliseconds of a prune (process CPU on SQLite, wall time on PostgreSQL,
where the server does the work) and ``before``/``after`` as a ratio. Measures, never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.models import AuditEventRow
from libdockit.model import AuditEvent
from tests.support.postgres import PostgresServer

PRUNE_EVERY = 1000
ADMIN_EVENTS = 1000
T0 = datetime(2026, 1, 1)
_FILL_SQLITE = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) INSERT INTO"
    ' "audit_events" ("at", "kind", "actor", "action") SELECT'
    " datetime('2026-01-01', '+' || i || ' seconds'), ?, 'anonymous', 'token.issue' FROM n"
)
_FILL_POSTGRES = (
    'INSERT INTO "audit_events" ("at", "kind", "actor", "action") SELECT'
    " timestamp '2026-01-01' + i * interval '1 second', %s, 'anonymous', 'token.issue'"
    " FROM generate_series(1, %s) AS i"
)
_RECOUNT = (
    'DELETE FROM "audit_event_counts"',
    'INSERT INTO "audit_event_counts" ("kind", "events")'
    ' SELECT "kind", COUNT(*) FROM "audit_events" GROUP BY "kind"',
)


def filled(url: str, size: int, *, postgres: bool, version_8_indexes: bool) -> SqlBackend:
    backend = SqlBackend(url, timeout=600.0)  # filling a million rows takes a while
    backend.migrate()
    with backend._session(write=True) as db:
        fill = _FILL_POSTGRES if postgres else _FILL_SQLITE
        for kind, count in (("admin", ADMIN_EVENTS), ("token", size)):
            params = (kind, count) if postgres else (count, kind)
            db.execute_sql(fill, params).close()  # type: ignore[no-untyped-call]
        for statement in _RECOUNT:
            db.execute_sql(statement).close()  # type: ignore[no-untyped-call]
        if version_8_indexes:
            db.execute_sql('DROP INDEX "audit_events_kind_at_id"').close()  # type: ignore[no-untyped-call]
    with backend._session() as db:
        db.execute_sql("ANALYZE").close()  # type: ignore[no-untyped-call]
    return backend


def version_8_prune(backend: SqlBackend, keep_last: int) -> int:
    """Dockit's prune before schema version 9: skip the newest ``keep_last`` by time."""
    row = AuditEventRow
    with backend._session(write=True) as db:
        newest_first = row.select(row.at, row.id).where(row.kind == "token")
        newest_first = newest_first.order_by(row.at.desc(), row.id.desc())
        found = list(newest_first.offset(keep_last).limit(1).bind(db))
        if not found:
            return 0
        cut = found[0]
        older = (row.at < cut.at) | ((row.at == cut.at) & (row.id <= cut.id))
        gone = int(row.delete().where((row.kind == "token") & older).execute(db))
        # Keeps the counts true for the next round (version 8 had none: one cheap UPSERT).
        backend._rows(
            db,
            'UPDATE "audit_event_counts" SET "events" = "events" - ? WHERE "kind" = ?',
            (gone, "token"),
        )
        return gone


def median_prune_ms(
    backend: SqlBackend, size: int, rounds: int, prune: Callable[[], int], *, cpu: bool
) -> float:
    clock = time.process_time if cpu else time.perf_counter
    spent: list[float] = []
    for r in range(rounds):
        start_at = T0 + timedelta(seconds=size + 10 + r * PRUNE_EVERY)
        batch = [
            AuditEvent(
                kind="token",
                actor="anonymous",
                action="token.issue",
                at=start_at + n * timedelta(seconds=1),
            )
            for n in range(PRUNE_EVERY)
        ]
        backend.record_events(batch)
        started = clock()
        gone = prune()
        spent.append((clock() - started) * 1000)
        if gone != PRUNE_EVERY:
            raise RuntimeError(f"a prune at the bound deleted {gone}, not {PRUNE_EVERY}")
    return statistics.median(spent)


def measure(urls: Callable[[str], str], size: int, rounds: int, *, postgres: bool) -> list[float]:
    figures = []
    for way in ("before", "index", "after"):
        backend = filled(urls(way), size, postgres=postgres, version_8_indexes=way == "before")
        try:
            prune: Callable[[], int]
            if way == "after":
                prune = partial(backend.prune_events, keep_last=size, kind="token")
            else:
                prune = partial(version_8_prune, backend, size)
            figures.append(median_prune_ms(backend, size, rounds, prune, cpu=not postgres))
        finally:
            backend.close()
    return figures


def sqlite_url(work: Path, size: int, way: str) -> str:
    return f"sqlite:///{work / f'{way}-{size}.db'}"


def postgres_url(pg: PostgresServer, names: dict[str, str], way: str) -> str:
    return pg.url_for(names[way])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.audit_prune")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args(argv)
    sizes = [int(part) for part in options.sizes.split(",")]
    print("| database | events | before ms | index ms | after ms | before/after |")
    print("|---|---:|---:|---:|---:|---:|")

    def row(name: str, size: int, figures: list[float]) -> None:
        before, index, after = figures
        figures_ms = f"{before:.2f} | {index:.2f} | {after:.2f}"
        print(f"| {name} | {size:,} | {figures_ms} | {before / after:.0f}x |", flush=True)

    with tempfile.TemporaryDirectory(prefix="dockit-prune-") as work:
        for size in sizes:
            paths = partial(sqlite_url, Path(work), size)
            row("SQLite", size, measure(paths, size, options.rounds, postgres=False))
            for way in ("before", "index", "after"):
                Path(work, f"{way}-{size}.db").unlink()
    if options.no_postgres:
        return 0
    pg = PostgresServer.create()
    try:
        pg.start()
        for size in sizes:
            names = {way: pg.create_database() for way in ("before", "index", "after")}
            row(
                "PostgreSQL",
                size,
                measure(partial(postgres_url, pg, names), size, options.rounds, postgres=True),
            )
            for name in names.values():
                pg.drop_database(name)
    finally:
        pg.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
