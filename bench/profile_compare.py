"""Before and after, in process: ``python3 -m bench.profile_compare REV``.

Runs :mod:`bench.profile_app`'s requests against two Dockit trees at once, each in a process
of its own: the working tree and ``REV`` (any git revision, exported to a temporary
directory with this checkout's ``bench`` package copied over it, so both are measured by the
same harness). The two are measured in interleaved rounds, in alternating order, so a busy
machine slows both alike; it prints each request kind's CPU microseconds per request (median
and least over the rounds, audit events written inside the measured time) and their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

KINDS = ("/healthz", "warm token", "anonymous token", "refresh POST")
ROOT = Path(__file__).resolve().parent.parent


def export(rev: str, into: Path) -> Path:
    """``rev``'s tree under ``into``, with this checkout's bench package."""
    archive = into / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", rev], cwd=ROOT, stdout=out, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    shutil.rmtree(tree / "bench", ignore_errors=True)
    shutil.copytree(ROOT / "bench", tree / "bench", ignore=shutil.ignore_patterns("__pycache__"))
    return tree


class Worker:
    """A process that builds the app from ``tree`` and answers measurement requests."""

    def __init__(self, tree: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.profile_compare", "--serve"],
            cwd=tree,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._line() != "ready":
            raise RuntimeError(f"the worker in {tree} did not start")

    def _line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def measure(self, kind: str, count: int) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{kind}\t{count}\n")
        self.process.stdin.flush()
        return float(self._line())

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve() -> int:
    """The worker's side: build, warm up, then answer "KIND<tab>COUNT" lines."""
    from dockit_server.multiproc import remove_metrics_dir, use_fresh_metrics_dir

    from .profile_app import build, per_request_us, requests_of

    metrics_dir = use_fresh_metrics_dir()
    try:
        with tempfile.TemporaryDirectory(prefix="dockit-compare-") as tmp:
            bench = build(Path(tmp))
            makers = requests_of(bench)
            for make in makers.values():
                per_request_us(bench, make, 200)
            print("ready", flush=True)
            for line in sys.stdin:
                kind, count = line.rstrip("\n").split("\t")
                print(f"{per_request_us(bench, makers[kind], int(count)):.3f}", flush=True)
    finally:
        remove_metrics_dir(metrics_dir)
    return 0


def compare(rev: str, rounds: int, count: int) -> dict[str, dict[str, list[float]]]:
    """{kind: {"before": [...], "after": [...]}}: CPU us per request of each round."""
    found: dict[str, dict[str, list[float]]] = {k: {"before": [], "after": []} for k in KINDS}
    with tempfile.TemporaryDirectory(prefix="dockit-compare-") as tmp:
        workers = {"before": Worker(export(rev, Path(tmp))), "after": Worker(ROOT)}
        try:
            for number in range(rounds):
                order = list(workers.items())
                if number % 2:
                    order.reverse()
                for kind in KINDS:
                    for name, worker in order:
                        found[kind][name].append(worker.measure(kind, count))
        finally:
            for worker in workers.values():
                worker.stop()
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.profile_compare", description=__doc__)
    parser.add_argument("rev", nargs="?", help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (9)")
    parser.add_argument("--requests", type=int, default=500, help="per round and kind (500)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    if not args.rev:
        parser.error("name the revision to compare with")
    found = compare(args.rev, max(1, args.rounds), max(1, args.requests))
    print(f"CPU microseconds per request, {args.rev} (before) against the working tree (after),")
    print(f"median (least) of {args.rounds} interleaved rounds of {args.requests}:")
    print("| request | before | after | after / before |")
    print("| --- | ---: | ---: | ---: |")
    for kind, figures in found.items():
        before, after = statistics.median(figures["before"]), statistics.median(figures["after"])
        print(
            f"| {kind} | {before:,.0f} us ({min(figures['before']):,.0f}) | "
            f"{after:,.0f} us ({min(figures['after']):,.0f}) | {after / before:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
