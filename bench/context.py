"""What every scenario gets: the run's options, a directory for its files, the report, and
:meth:`Bench.measure`: warmed-up wrk runs of one or more probes, interleaved in rounds when
there are several, with the servers' CPU accounted. :meth:`Bench.measure_both` measures
each probe twice, with a new connection per request and with kept-alive connections."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from tests.support.dockit import DockitServer

from . import wrk
from .procs import cpu_seconds, server_pids
from .results import Report


@dataclass(frozen=True, slots=True)
class Options:
    duration: int = 5
    warmup: int = 1
    workers: int = 2
    threads: int = 1
    connections: int = 4
    scales: tuple[int, ...] = (1000, 10_000, 100_000)
    samples: int = 20  # sequential requests for the cold-path medians


@dataclass(frozen=True, slots=True)
class Probe:
    """What one figure measures: one wrk per load, all at once, against ``servers``."""

    name: str
    servers: tuple[DockitServer, ...]
    loads: tuple[wrk.Load, ...]
    threads: int | None = None  # wrk threads, if not the run's


@dataclass(frozen=True, slots=True)
class Measured:
    """A probe's figures over every round it ran."""

    #: Requests per second, summed over the probe's loads (each wrk's requests / seconds).
    rate: float
    #: The same per load.
    rates: tuple[float, ...]
    #: The rate (summed over loads) of each round, to show how steady the machine was.
    round_rates: tuple[float, ...]
    requests: int
    #: Median over rounds of the first load's p50 and p99.
    p50_ms: float
    p99_ms: float
    #: wrk's CPU time per second of the run (1.0: one core busy), the most of any round.
    wrk_cpu_share: float
    #: Server CPU (masters + workers) per request, microseconds; None if not measured.
    server_cpu_us: float | None

    def cpu_cell(self) -> str:
        return f"{self.server_cpu_us:,.0f} us" if self.server_cpu_us is not None else ""

    def latency(self) -> str:
        return f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms"


@dataclass
class _Tally:
    results: list[list[wrk.WrkResult]] = field(default_factory=list)  # per round, per load
    cpu_s: float = 0.0

    def summary(self, measured_cpu: bool) -> Measured:
        loads = len(self.results[0])
        requests = [sum(r[i].requests for r in self.results) for i in range(loads)]
        seconds = [sum(r[i].seconds for r in self.results) for i in range(loads)]
        rates = tuple(n / s for n, s in zip(requests, seconds, strict=True))
        total = sum(requests)
        return Measured(
            rate=sum(rates),
            rates=rates,
            round_rates=tuple(sum(w.requests_per_s for w in r) for r in self.results),
            requests=total,
            p50_ms=statistics.median(r[0].latency_ms.get(50, 0.0) for r in self.results),
            p99_ms=statistics.median(r[0].latency_ms.get(99, 0.0) for r in self.results),
            wrk_cpu_share=max(w.wrk_cpu_share for r in self.results for w in r),
            server_cpu_us=self.cpu_s / total * 1e6 if measured_cpu and total else None,
        )


@dataclass(frozen=True, slots=True)
class Pair:
    """One probe measured both ways, in the same interleaved rounds."""

    new_connection: Measured
    keepalive: Measured

    def rates(self) -> str:
        return (
            f"{self.new_connection.rate:,.0f} req/s new connection, "
            f"{self.keepalive.rate:,.0f} kept alive"
        )

    def latency(self) -> str:
        return (
            f"p99 {self.new_connection.p99_ms:.2f} ms new connection, "
            f"{self.keepalive.p99_ms:.2f} ms kept alive"
        )


def with_keepalive(probe: Probe, keepalive: bool) -> Probe:
    mode = "kept alive" if keepalive else "new connection"
    loads = tuple(load.with_keepalive(keepalive) for load in probe.loads)
    return dataclasses.replace(probe, name=f"{probe.name} ({mode})", loads=loads)


def basic(username: str, password: str) -> tuple[str, str]:
    raw = f"{username}:{password}".encode()
    return ("Authorization", "Basic " + base64.b64encode(raw).decode("ascii"))


def refresh_form(refresh_token: str, *, service: str, scope: str) -> str:
    """The form a refresh-token POST sends (scenario 4): as docker does, with a client id."""
    return urlencode(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "service": service,
            "client_id": "bench",
            "scope": scope,
        }
    )


class Bench:
    def __init__(self, options: Options, workdir: Path, report: Report) -> None:
        self.options = options
        self.workdir = workdir
        self.report = report
        self._counter = itertools.count(1)

    def directory(self, name: str) -> Path:
        """A fresh directory under the run's work directory."""
        path = self.workdir / f"{next(self._counter):02d}-{name}"
        path.mkdir(parents=True)
        return path

    def measure(
        self,
        probes: Sequence[Probe],
        *,
        connections: int | None = None,
        threads: int | None = None,
    ) -> list[Measured]:
        """Warm each probe up for ``warmup`` s, then measure each for ``duration`` s in all.

        One probe runs once for ``duration`` s. Several run in interleaved rounds of 1 s
        (probe A, B, C, A, B, C, ...), so a machine that gets busier or quieter during the
        run affects each figure alike and their ratios stay fair. Any non-2xx answer fails.
        """
        conns = connections or self.options.connections
        thr = threads or self.options.threads
        duration = self.options.duration
        rounds, seconds = (1, duration) if len(probes) == 1 else (duration, 1)
        names = ", ".join(probe.name for probe in probes)
        print(f"  {names}: wrk -t{thr} -c{conns}, {rounds} x {seconds} s each", flush=True)
        if self.options.warmup > 0:
            for probe in probes:
                wrk.run_parallel(
                    probe.loads,
                    duration=self.options.warmup,
                    threads=probe.threads or thr,
                    connections=conns,
                )
        tallies = [_Tally() for _ in probes]
        for _ in range(rounds):
            for probe, tally in zip(probes, tallies, strict=True):
                pids = [pid for server in probe.servers for pid in server_pids(server)]
                before = cpu_seconds(pids)
                results = wrk.run_parallel(
                    probe.loads, duration=seconds, threads=probe.threads or thr, connections=conns
                )
                tally.cpu_s += cpu_seconds(pids) - before
                for result in results:
                    check(result, probe.name)
                tally.results.append(results)
        return [
            tally.summary(bool(probe.servers)) for probe, tally in zip(probes, tallies, strict=True)
        ]

    def measure_both(
        self,
        probes: Sequence[Probe],
        *,
        connections: int | None = None,
        threads: int | None = None,
    ) -> list[Pair]:
        """Each probe with a new connection per request and with kept-alive connections,
        all interleaved in the same rounds."""
        expanded = [with_keepalive(p, keepalive) for p in probes for keepalive in (False, True)]
        found = self.measure(expanded, connections=connections, threads=threads)
        return [Pair(found[i], found[i + 1]) for i in range(0, len(found), 2)]

    def measure_one(self, server: DockitServer, load: wrk.Load, *, what: str) -> Measured:
        return self.measure([Probe(what, (server,), (load,))])[0]


def check(result: wrk.WrkResult, what: str) -> None:
    # A rare reset under load (wrk reconnecting after "Connection: close") is not a
    # failure, but a wrong answer is.
    if result.non_2xx or result.socket_errors > result.requests / 100 or not result.requests:
        raise RuntimeError(
            f"{what}: {result.non_2xx} non-2xx answers and {result.socket_errors} socket "
            f"errors in {result.requests} requests: the rate would be meaningless"
        )
