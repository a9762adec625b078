"""``python3 -m bench``: Dockit's benchmark suite (run from the repository's root).

Starts real ``dockit api-server`` processes, drives them with wrk on 127.0.0.1 and prints
a table of each scenario's figure, its ratio to the ``/healthz`` baseline measured in the
same run, the target and whether it was met. Scenarios (see the issue "Performance and
scale-out" and "Serving model"): 1 /healthz, 2 warm token (and with a new repository each
request), 3 anonymous token, 4 refresh-token POST, 5 cold password check, 6 RS256 vs ES256,
7 scale, 8 LDAP, 9 two instances on PostgreSQL, 10 a storm of 500 clients, 11 serving models
compared (sync, gthread, gevent, Dockit's gevent worker) under slow clients, a hung
directory and a storm, 12 robot token (beside the warm token, on the same server as 1-4).
Every rate is measured with a new connection per request and with kept-alive connections.

Every process it starts is stopped by PID when its scenario ends, also on an error, Ctrl-C
or SIGTERM. A scenario that fails is reported as ERROR and the others still run; the exit
status is 1 when any did (a missed target is a result, not a failure).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from . import cold, directory, http_scenarios, multi, report, scale, serving, signing, storm
from .context import Bench, Options
from .results import ERROR, Report, Row, text_table
from .wrk import WrkError, wrk_binary

ALL = tuple(range(1, 13))
#: Scenarios whose figures are ratios to the /healthz baseline (scenario 1).
NEEDS_BASELINE = {2, 3, 4, 6, 8, 12}


def _numbers(text: str) -> set[int]:
    try:
        wanted = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of 1-12, e.g. 1,2,3") from None
    if not wanted or not wanted <= set(ALL):
        raise argparse.ArgumentTypeError("scenarios are numbered 1 to 12")
    return wanted


def _scales(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of user counts") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("user counts must be positive")
    return values


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m bench",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--only",
        type=_numbers,
        default=set(ALL),
        metavar="N,N",
        help="run these scenarios (1 is added when a ratio needs it)",
    )
    p.add_argument("--duration", type=int, default=5, help="seconds measured per rate (5)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of warm-up before each (1)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (2)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--connections", type=int, default=4, help="wrk connections (4)")
    p.add_argument(
        "--scale",
        type=_scales,
        default=None,
        metavar="N,N",
        help="store sizes for scenario 7 (default 1000,10000,100000)",
    )
    p.add_argument("--quick", action="store_true", help="scenario 7 at 1000,10000 only")
    p.add_argument(
        "--samples", type=int, default=20, help="sequential requests per cold-path median (20)"
    )
    p.add_argument(
        "--write", type=Path, metavar="PATH", help="also write results, e.g. bench/RESULTS.md"
    )
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    return p


def _options(args: argparse.Namespace) -> Options:
    if args.duration < 1 or args.warmup < 0 or args.workers < 1 or args.samples < 1:
        raise SystemExit("--duration, --workers and --samples must be >= 1, --warmup >= 0")
    if args.connections < args.threads:
        raise SystemExit("--connections must be at least --threads")
    scales = args.scale or ((1000, 10_000) if args.quick else (1000, 10_000, 100_000))
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        workers=args.workers,
        threads=args.threads,
        connections=args.connections,
        scales=scales,
        samples=args.samples,
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _steps(wanted: set[int]) -> list[tuple[str, set[int], Callable[[Bench], None]]]:
    http = wanted & {1, 2, 3, 4, 12}
    steps: list[tuple[str, set[int], Callable[[Bench], None]]] = []
    if http:
        label = "1-4, 12" if 12 in http else "1-4"
        steps.append((label, http, lambda bench: http_scenarios.run(bench, http)))
    modules = ((5, cold), (6, signing), (7, scale), (8, directory), (9, multi), (10, storm))
    for number, module in (*modules, (11, serving)):
        if number in wanted:
            steps.append((str(number), {number}, module.run))
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(raw)
    options = _options(args)
    wanted: set[int] = set(args.only)
    if wanted & NEEDS_BASELINE and 1 not in wanted:
        wanted.add(1)
        print("scenario 1 (the /healthz baseline) added: the others are ratios to it")
    try:
        wrk_binary()
    except WrkError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    # Ctrl-C, also when started in the background by a shell that ignores SIGINT for it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    facts = report.machine()
    results = Report()
    workdir = Path(tempfile.mkdtemp(prefix="dockit-bench-"))
    started_at = time.monotonic()
    try:
        bench = Bench(options, workdir, results)
        for label, numbers, step in _steps(wanted):
            print(f"== scenario {label}", flush=True)
            try:
                step(bench)
            except Exception as exc:
                name = " ".join(str(n) for n in sorted(numbers))
                results.add(
                    Row(name, "scenario failed", f"{type(exc).__name__}: {exc}"[:300], status=ERROR)
                )
    except KeyboardInterrupt:
        print("\nbench: interrupted; every process it started has been stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(text_table(results.rows))
    for note in results.notes:
        print(f"* {note}")
    for title, body in results.sections:
        print(f"\n{title}\n{body}")
    print(f"(total {time.monotonic() - started_at:.0f} s)")
    if args.write is not None:
        report.write(args.write, results, options, raw, facts)
    return 1 if results.errors() else 0


if __name__ == "__main__":
    sys.exit(main())
