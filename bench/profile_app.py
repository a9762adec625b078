"""Where a request's time goes, in process: ``python3 -m bench.profile_app``.

Builds the server's app exactly as a gunicorn worker does (``prepare`` then
``build_components`` and ``create_app`` from Settings) over a temporary SQLite store with
the grants of scenarios 2-4 (``bench/**`` for the bench user, ``public/*`` for anyone), and
calls the WSGI app directly, without gunicorn or sockets. It prints, for each request
kind, the CPU time per request with the default settings, with the audit log off and with
metrics off, and the share of a profiled warm token request spent building SQL, running
it and signing; ``--parts`` adds the CPU time of the token path's parts measured alone
(:mod:`bench.profile_parts`), ``--sample S`` the share of each area of the code in the
token requests' CPU time (:mod:`bench.profile_sample`), ``--profile`` the profile, so a
missed target can be traced to functions. Runs ``--requests`` of each.

Figures are CPU time of this process (``time.process_time``: every thread, so the audit
writer's share is counted), not wall-clock time, so other work on the machine changes them
little. Each round ends by writing the audit events it queued, inside the measured time;
the variants run interleaved in rounds and each figure is the median of its rounds.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from falcon import testing

from dockit_server.multiproc import remove_metrics_dir, use_fresh_metrics_dir

from .app_harness import (
    ROBOT,
    ROUNDS,
    SCOPE,
    BenchApp,
    Environ,
    add_robot,
    build,
    call,
    interleaved_us,
    per_request_us,
    requests_of,
)
from .profile_parts import parts
from .profile_sample import shares

__all__ = [
    "ROBOT",
    "BenchApp",
    "Environ",
    "add_robot",
    "breakdown",
    "build",
    "call",
    "interleaved_us",
    "minimal_app_us",
    "per_request_us",
    "requests_of",
]

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "audit off": {"audit_enabled": False},
    "metrics off": {"server_metrics": False},
    "audit+metrics off": {"audit_enabled": False, "server_metrics": False},
    # Every request of a kind asks for the same scope, so by default its tokens are reused
    # within each second: this column signs every one (token.reuse_within_second).
    "no token reuse": {"token_reuse_within_second": False},
}
#: cProfile entries whose time is attributed: (file suffix, function, which time).
_PARTS = {
    "building SQL (peewee)": ("peewee.py", "sql", "cumulative"),
    # A cursor's or, as the token path's reads run, a connection's execute.
    "running SQL (sqlite3)": ("~", "<method 'execute' of 'sqlite3.", "total"),
    "signing (ECDSA)": ("~", "<method 'sign' of", "total"),
}


@dataclass
class Breakdown:
    #: Microseconds per request: {request kind: {variant: us}}.
    table: dict[str, dict[str, float]]
    #: Share of the warm token's profiled time per part (cProfile inflates Python code).
    shares: dict[str, float]
    #: SQL statements one warm token request runs (in WAL mode the change check runs none).
    statements: float
    stats: pstats.Stats
    #: CPU microseconds of the warm token's parts measured alone (empty unless asked for).
    parts: dict[str, float] = field(default_factory=dict)
    #: {request kind: {area: share of its sampled CPU time}} (empty unless asked for).
    areas: dict[str, dict[str, float]] = field(default_factory=dict)

    def markdown(self) -> str:
        lines = ["| request | " + " | ".join(VARIANTS) + " |"]
        lines.append("| --- |" + " ---: |" * len(VARIANTS))
        for kind, cells in self.table.items():
            lines.append(
                f"| {kind} | " + " | ".join(f"{cells[v]:,.0f} us" for v in VARIANTS) + " |"
            )
        return "\n".join(lines)

    def robot_text(self) -> str:
        """The robot token's cost against /healthz and the warm (password) token."""
        robot, warm = self.table["robot token"], self.table["warm token"]
        health = self.table["/healthz"]
        return (
            f"robot token: {robot['defaults']:,.0f} us, "
            f"{robot['defaults'] / warm['defaults']:.2f}x the warm token's CPU, "
            f"{robot['defaults'] / health['defaults']:.2f}x /healthz's"
        )

    def share_text(self) -> str:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in self.shares.items())
        return (
            f"{shares}; {self.statements:.1f} SQL statements per request (on SQLite, while"
            " nothing was committed, a warm token runs none: its check reads the wal-index header)"
        )

    def areas_markdown(self) -> str:
        kinds = list(self.areas)
        names = list(dict.fromkeys(area for found in self.areas.values() for area in found))
        lines = ["| area (sampled) | " + " | ".join(kinds) + " |"]
        lines.append("| --- |" + " ---: |" * len(kinds))
        for area in names:
            cells = []
            for kind in kinds:
                share = self.areas[kind].get(area, 0.0)
                cells.append(f"{share:.0%}, {share * self.table[kind]['defaults']:,.0f} us")
            lines.append(f"| {area} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def parts_markdown(self) -> str:
        lines = ["| part of a warm token, measured alone | CPU per call |", "| --- | ---: |"]
        lines += [f"| {name} | {us:,.1f} us |" for name, us in self.parts.items()]
        return "\n".join(lines)


def _shares(stats: pstats.Stats) -> dict[str, float]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total: float = stats.total_tt  # type: ignore[attr-defined]
    shares = {}
    for name, (suffix, function, which) in _PARTS.items():
        spent = 0.0
        for (filename, _line, func), (_cc, _nc, tottime, cumtime, _callers) in raw.items():
            builtin = suffix == "~"  # cProfile's file name for C functions and methods
            if filename.endswith(suffix) and (function in func if builtin else func == function):
                spent += cumtime if which == "cumulative" else tottime
        shares[name] = spent / total if total else 0.0
    return shares


def minimal_app_us(count: int) -> float:
    """CPU microseconds per request of :mod:`bench.minimal_app` called in process (its
    Falcon app signing a fixed ES256 token), the least of :data:`ROUNDS` rounds."""
    from .minimal_app import create_app

    app = create_app()
    environs = [testing.create_environ(path="/token") for _ in range(count)]
    for environ in environs[:20]:
        call(app, environ)  # warm-up
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for environ in environs[: max(1, count // ROUNDS)]:
            call(app, environ)
        best = min(best, (time.process_time() - started) / max(1, count // ROUNDS) * 1e6)
    return best


def breakdown(count: int, *, with_parts: bool = False, sample_seconds: float = 0) -> Breakdown:
    """CPU time per request of each kind in each variant, a profile of the warm token,
    ``with_parts`` its parts measured alone and, with ``sample_seconds``, the areas the
    token requests' time goes to (:mod:`bench.profile_sample`)."""
    metrics_dir = use_fresh_metrics_dir()
    try:
        with tempfile.TemporaryDirectory(prefix="dockit-profile-") as tmp:
            benches = {}
            for number, (name, settings) in enumerate(VARIANTS.items()):
                directory = Path(tmp) / str(number)
                directory.mkdir()
                benches[name] = build(directory, **settings)
            makers = {name: requests_of(bench) for name, bench in benches.items()}
            table = {
                kind: interleaved_us(benches, {n: makers[n][kind] for n in benches}, count)
                for kind in makers["defaults"]
            }
            environs = [makers["defaults"]["warm token"]() for _ in range(count)]
            profiler = cProfile.Profile()
            profiler.enable()
            for environ in environs:
                call(benches["defaults"].app, environ)
            benches["defaults"].settle()
            profiler.disable()
            found = parts(benches["defaults"], SCOPE, count) if with_parts else {}
            areas = {
                kind: shares(benches["defaults"], makers["defaults"][kind], sample_seconds)
                for kind in ("warm token", "anonymous token", "refresh POST")
                if sample_seconds > 0
            }
    finally:
        remove_metrics_dir(metrics_dir)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    return Breakdown(table, _shares(stats), _statements(stats) / count, stats, found, areas)


def _statements(stats: pstats.Stats) -> int:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return sum(
        calls
        for (filename, _line, func), (_cc, calls, *_rest) in raw.items()
        if filename == "~" and "'execute' of 'sqlite3." in func
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.profile_app", description=__doc__)
    parser.add_argument("--requests", type=int, default=3500, help="per measurement (3500)")
    parser.add_argument("--parts", action="store_true", help="also time the parts alone")
    parser.add_argument(
        "--sample", type=float, default=0, metavar="S", help="sample S CPU seconds per token kind"
    )
    parser.add_argument("--profile", action="store_true", help="print the warm token's profile")
    parser.add_argument("--top", type=int, default=30, help="functions shown (30)")
    args = parser.parse_args(argv)
    result = breakdown(max(1, args.requests), with_parts=args.parts, sample_seconds=args.sample)
    print(f"in-process CPU microseconds per request (no gunicorn), {args.requests} each:")
    print(result.markdown())
    print(f"warm token, share of profiled time: {result.share_text()}")
    print(result.robot_text())
    if result.parts:
        print(result.parts_markdown())
    if result.areas:
        print(result.areas_markdown())
    if args.profile:
        out = io.StringIO()
        result.stats.stream = out  # type: ignore[attr-defined]
        result.stats.sort_stats("cumulative").print_stats(args.top)
        result.stats.sort_stats("tottime").print_stats(args.top)
        print(out.getvalue().replace(os.getcwd() + "/", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
