"""Where a request's time goes, in process: ``python3 -m bench.profile_app``.

Builds the server's app exactly as a gunicorn worker does (``prepare`` then
``build_components`` and ``create_app`` from Settings) over a temporary SQLite store, and
calls the WSGI app directly, without gunicorn or sockets. It prints, for each request
kind, the in-process time per request with the default settings, with the audit log off
and with metrics off (the variants interleaved in rounds, each figure the median of its
rounds' means), and the share of a profiled warm token request spent building SQL, running
it (SQLite commits each statement itself) and signing; ``--profile`` prints the profile,
so a missed target can be traced to functions. Runs ``--requests`` of each.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from falcon import testing

from dockit_server.multiproc import remove_metrics_dir, use_fresh_metrics_dir

from .context import basic
from .generate_store import BENCH_PASSWORD, BENCH_USER
from .procs import SERVICE

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SCOPE = "repository:home/bench/app:pull"


def _app(workdir: Path, **settings: Any) -> WsgiApp:
    from dockit_server.app import create_app
    from dockit_server.bootstrap import build_components, prepare
    from dockit_server.config import Settings
    from libdockit.secret import Secret

    config = Settings(
        database_url=Secret(f"sqlite:///{workdir / 'dockit.db'}"),
        token_services=(SERVICE,),
        admin_password=Secret("bench-admin-pw"),
        **settings,
    )
    prepare(config)
    components = build_components(config)
    components.admin.create_user(BENCH_USER, Secret(BENCH_PASSWORD))
    app: WsgiApp = create_app(components)
    return app


Environ = dict[str, Any]


def _requests(app: WsgiApp) -> dict[str, Callable[[], Environ]]:
    """A fresh WSGI environ per call (a POST body is a stream, read once)."""
    auth = dict([basic(BENCH_USER, BENCH_PASSWORD)])
    query = f"service={SERVICE}&scope={SCOPE}"
    offline = testing.create_environ(
        path="/v2/token",
        query_string=f"service={SERVICE}&offline_token=true&client_id=bench",
        headers=auth,
    )
    refresh = json.loads(_call(app, offline))["refresh_token"]
    form = urlencode(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "service": SERVICE,
            "client_id": "bench",
            "scope": SCOPE,
        }
    )
    return {
        "/healthz": lambda: testing.create_environ(path="/healthz"),
        "warm token": lambda: testing.create_environ(
            path="/v2/token", query_string=query, headers=auth
        ),
        "anonymous token": lambda: testing.create_environ(path="/v2/token", query_string=query),
        "refresh POST": lambda: testing.create_environ(
            method="POST",
            path="/v2/token",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
    }


def _call(app: WsgiApp, environ: Environ) -> bytes:
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    if not status or not status[0].startswith("200"):
        raise RuntimeError(f"{environ['PATH_INFO']}: {status} {body[:200]!r}")
    return body


def per_request_us(app: WsgiApp, make: Callable[[], Environ], count: int) -> float:
    environs = [make() for _ in range(count)]
    started = time.perf_counter()
    for environ in environs:
        _call(app, environ)
    return (time.perf_counter() - started) / count * 1e6


def interleaved_us(
    apps: dict[str, WsgiApp], makers: dict[str, Callable[[], Environ]], requests: int
) -> dict[str, float]:
    """Microseconds per request of each app, in 5 interleaved rounds; medians."""
    rounds = 5
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for name, app in apps.items():
        per_request_us(app, makers[name], 20)  # warm-up
    for _ in range(rounds):
        for name, app in apps.items():
            samples[name].append(per_request_us(app, makers[name], max(1, requests // rounds)))
    return {name: statistics.median(values) for name, values in samples.items()}


VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "audit off": {"audit_enabled": False},
    "metrics off": {"server_metrics": False},
    "audit+metrics off": {"audit_enabled": False, "server_metrics": False},
}
#: cProfile entries whose time is attributed: (file suffix, function, which time).
_PARTS = {
    "building SQL (peewee)": ("peewee.py", "sql", "cumulative"),
    "running SQL (sqlite3)": ("~", "<method 'execute' of 'sqlite3.Cursor' objects>", "total"),
    "signing (ECDSA)": ("~", "<method 'sign' of", "total"),
}


@dataclass
class Breakdown:
    #: Microseconds per request: {request kind: {variant: us}}.
    table: dict[str, dict[str, float]]
    #: Share of the warm token's profiled time per part (cProfile inflates Python code).
    shares: dict[str, float]
    #: SQL statements one warm token request runs.
    statements: float
    stats: pstats.Stats

    def markdown(self) -> str:
        lines = ["| request | " + " | ".join(VARIANTS) + " |"]
        lines.append("| --- |" + " ---: |" * len(VARIANTS))
        for kind, cells in self.table.items():
            lines.append(
                f"| {kind} | " + " | ".join(f"{cells[v]:,.0f} us" for v in VARIANTS) + " |"
            )
        return "\n".join(lines)

    def share_text(self) -> str:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in self.shares.items())
        return f"{shares}; {self.statements:.0f} SQL statements per request"


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


def breakdown(requests: int) -> Breakdown:
    """Time per request of each kind in each variant, and a profile of the warm token."""
    metrics_dir = use_fresh_metrics_dir()
    try:
        with tempfile.TemporaryDirectory(prefix="dockit-profile-") as tmp:
            apps = {}
            for number, (name, settings) in enumerate(VARIANTS.items()):
                directory = Path(tmp) / str(number)
                directory.mkdir()
                apps[name] = _app(directory, **settings)
            makers = {name: _requests(app) for name, app in apps.items()}
            table = {
                kind: interleaved_us(apps, {n: makers[n][kind] for n in apps}, requests)
                for kind in makers["defaults"]
            }
            environs = [makers["defaults"]["warm token"]() for _ in range(requests)]
            profiler = cProfile.Profile()
            profiler.enable()
            for environ in environs:
                _call(apps["defaults"], environ)
            profiler.disable()
    finally:
        remove_metrics_dir(metrics_dir)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    return Breakdown(table, _shares(stats), _statements(stats) / requests, stats)


def _statements(stats: pstats.Stats) -> int:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return sum(
        calls
        for (filename, _line, func), (_cc, calls, *_rest) in raw.items()
        if filename == "~" and "'execute' of 'sqlite3.Cursor'" in func
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.profile_app", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per measurement (2000)")
    parser.add_argument("--profile", action="store_true", help="print the warm token's profile")
    parser.add_argument("--top", type=int, default=30, help="functions shown (30)")
    args = parser.parse_args(argv)
    result = breakdown(max(1, args.requests))
    print(f"in-process microseconds per request (no gunicorn), {args.requests} each:")
    print(result.markdown())
    print(f"warm token, share of profiled time: {result.share_text()}")
    if args.profile:
        out = io.StringIO()
        result.stats.stream = out  # type: ignore[attr-defined]
        result.stats.sort_stats("cumulative").print_stats(args.top)
        result.stats.sort_stats("tottime").print_stats(args.top)
        print(out.getvalue().replace(os.getcwd() + "/", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
