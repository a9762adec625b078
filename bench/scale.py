"""Scenario 7: token latency as the store grows.

For the empty store (only ``bench`` with its groups and grants) and each ``--scale`` N, a
fresh store is generated (:mod:`bench.generate_store`, timed) and a server started on it;
all of them run at once. Then ``bench``'s warm token request (Basic auth, cached
credentials, a scope one of its groups' exact grants matches) goes to each server in turn,
one request at a time (empty, 1k, 10k, 100k, empty, 1k, ...), so a machine that gets
busier during the run slows every store alike; p50 and p99 come from the raw samples.
Sequential requests from Python add the client's own time (a fraction of a millisecond,
the same for every store), which makes the ratios slightly smaller than the server's alone.
Target: p50 and p99 at most 1.5x the empty store's.

Each server caches groups and grants per policy version (libdockit.backends.sql.cache), so
the steady state reads two rows whatever the store's size. A second series interleaved
with the first steps the store's policy version before each request (one UPDATE from this
process, as any admin change would), so that request reads the user's groups and every
subject's grants from the store: the path after a change, judged by the same target.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import ExitStack, closing

from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret

from . import sequential
from .context import Bench, basic
from .generate_store import BENCH_PASSWORD, BENCH_USER, bench_groups, generate
from .http_scenarios import token_url
from .procs import started
from .results import Row, ScalePoint, judge, percentile

TARGET = 1.5
SCOPE = "repository:proj0/app1:pull"  # bench is in g00000, whose grants include proj0/app1
WARMUP_REQUESTS = 20
STEP_POLICY_VERSION = "UPDATE policy_version SET version = version + 1 WHERE id = 1"
DEADLINE_S = 600.0


def _label(users: int) -> str:
    if users == 0:
        return "empty"
    return f"{users // 1000}k" if users % 1000 == 0 else str(users)


def run(bench: Bench) -> None:
    password_hash = PasswordHasher().hash(Secret(BENCH_PASSWORD))
    sizes = (0, *bench.options.scales)
    headers = (basic(BENCH_USER, BENCH_PASSWORD),)
    count = 200 * bench.options.duration
    generation: dict[int, float] = {}
    with ExitStack() as stack:
        urls = {}
        databases = {}
        for users in sizes:
            directory = bench.directory(f"scale-{_label(users)}")
            databases[users] = directory / "dockit.db"
            print(f"  7 generating a store of {users:,} users", flush=True)
            generated = generate(directory / "dockit.db", users, password_hash=password_hash)
            generation[users] = generated.seconds
            bench.report.note(f"Scale store {_label(users)}: {generated.summary()}.")
            server = stack.enter_context(started(directory, workers=bench.options.workers))
            urls[users] = token_url(server, SCOPE)
            sequential.timed(urls[users], headers, count=WARMUP_REQUESTS)
        print(f"  7 {count} sequential token requests per store, interleaved", flush=True)
        samples: dict[int, list[float]] = {users: [] for users in sizes}
        changed: dict[int, list[float]] = {users: [] for users in sizes}
        stores = {
            users: stack.enter_context(closing(sqlite3.connect(databases[users])))
            for users in sizes
        }
        end = time.monotonic() + DEADLINE_S
        while len(samples[sizes[-1]]) < count and time.monotonic() < end:
            for users in sizes:
                samples[users] += sequential.timed(urls[users], headers, count=1)
                with stores[users]:  # an admin change: every cached group and grant is stale
                    stores[users].execute(STEP_POLICY_VERSION)
                changed[users] += sequential.timed(urls[users], headers, count=1)
    points = [
        ScalePoint(
            users,
            generation[users],
            percentile(samples[users], 50) * 1000,
            percentile(samples[users], 99) * 1000,
            len(samples[users]) + len(changed[users]),
            percentile(changed[users], 50) * 1000,
            percentile(changed[users], 99) * 1000,
        )
        for users in sizes
    ]
    _report(bench, points)


def _report(bench: Bench, points: list[ScalePoint]) -> None:
    empty = points[0]
    bench.report.curve.extend(points)
    bench.report.add(
        Row(
            number="7",
            scenario=f"scale: empty store ({len(bench_groups())} groups for bench)",
            value=f"p50 {empty.p50_ms:.2f} ms, p99 {empty.p99_ms:.2f} ms",
            target="reference",
        )
    )
    bench.report.add(
        Row(
            number="7",
            scenario="scale: empty store, right after a store change",
            value=f"p50 {empty.changed_p50_ms:.2f} ms, p99 {empty.changed_p99_ms:.2f} ms",
            target="reference",
        )
    )
    for point in points[1:]:
        r50, r99 = point.p50_ms / empty.p50_ms, point.p99_ms / empty.p99_ms
        c50 = point.changed_p50_ms / empty.changed_p50_ms
        c99 = point.changed_p99_ms / empty.changed_p99_ms
        bench.report.add(
            Row(
                number="7",
                scenario=f"scale: {point.users:,} users (generated in {point.generation_s:.1f} s)",
                value=(
                    f"p50 {point.p50_ms:.2f} ms, p99 {point.p99_ms:.2f} ms; right after a "
                    f"change p50 {point.changed_p50_ms:.2f} ms, p99 {point.changed_p99_ms:.2f} ms"
                ),
                ratio=(
                    f"p50 {r50:.2f}x, p99 {r99:.2f}x empty; after a change "
                    f"p50 {c50:.2f}x, p99 {c99:.2f}x"
                ),
                target=f"<= {TARGET}x empty",
                status=judge(max(r50, r99, c50, c99) <= TARGET),
            )
        )
