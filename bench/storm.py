"""Scenario 10: a storm, 500 clients asking for a token at the same moment (a cluster
pulling one image), on the default serving model.

* Bursts: 500 connections are opened, then all send their warm token request together
  (tests.support.storm: asyncio, a barrier, ``Connection: close``); every answer must be a
  token. p50/p99 over every request of every burst; the rate is the requests answered
  over the bursts' durations (first request sent to last answer read).
* Sustained: wrk with 500 connections for the run's duration, with a new connection per
  request, then kept alive (whole runs: with 500 connections a 1 s round is mostly
  connecting); any answer but 200 fails the scenario.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from urllib.parse import urlencode

from tests.support.dockit import DockitServer
from tests.support.storm import request_bytes, storm

from .context import Bench, Probe, basic, with_keepalive
from .http_scenarios import PASSWORD, SCOPE, USER, prepare, warm_token_load
from .procs import SERVICE, started
from .results import Row, fmt_rate, percentile

CLIENTS = 500
BURSTS = 3


@dataclass(frozen=True, slots=True)
class Bursts:
    answered: int
    failed: int
    p50_ms: float
    p99_ms: float
    rate: float
    errors: tuple[str, ...]

    def text(self) -> str:
        return (
            f"{self.answered:,} of {self.answered + self.failed:,} answered with a token, "
            f"p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, {fmt_rate(self.rate)}"
        )


def bursts(server: DockitServer, *, clients: int = CLIENTS, count: int = BURSTS) -> Bursts:
    """``count`` bursts of ``clients`` warm token requests at once against ``server``."""
    path = "/v2/token?" + urlencode({"service": SERVICE, "scope": SCOPE})
    payload = request_bytes(path, server.host, (basic(USER, PASSWORD),))
    seconds: list[float] = []
    durations: list[float] = []
    failed = 0
    errors: list[str] = []
    for _ in range(count):
        answers = storm("127.0.0.1", server.port, payload, clients=clients, timeout=120)
        good = [a for a in answers if a.status == 200 and b'"token"' in a.body]
        failed += len(answers) - len(good)
        errors += [a.error or f"HTTP {a.status}" for a in answers if a not in good][:3]
        seconds += [a.seconds for a in good]
        durations.append(max((a.seconds for a in answers), default=0.0))
    answered = len(seconds)
    return Bursts(
        answered=answered,
        failed=failed,
        p50_ms=statistics.median(seconds) * 1000 if seconds else float("nan"),
        p99_ms=percentile(seconds, 99) * 1000 if seconds else float("nan"),
        rate=answered / sum(durations) if sum(durations) else 0.0,
        errors=tuple(errors[:5]),
    )


def run(bench: Bench) -> None:
    report = bench.report
    with started(bench.directory("storm"), workers=bench.options.workers) as server:
        prepare(server)
        load = warm_token_load(server)
        found = bursts(server)
        report.add(
            Row(
                "10",
                f"storm: {CLIENTS} clients at once, {BURSTS} bursts (warm token)",
                found.text(),
                target="all answered",
                status="met" if found.failed == 0 else "MISSED",
            )
        )
        if found.errors:
            report.note("Storm errors (first few): " + "; ".join(found.errors))
        sustained = [
            bench.measure(
                [with_keepalive(Probe("10 storm, sustained", (server,), (load,)), keepalive)],
                connections=CLIENTS,
                threads=2,
            )[0]
            for keepalive in (False, True)
        ]
        for mode, figures in zip(("new connection", "kept alive"), sustained, strict=True):
            report.add(
                Row(
                    "10",
                    f"storm: wrk -c{CLIENTS} sustained, {mode}",
                    f"{fmt_rate(figures.rate)} ({figures.latency()}), every answer 200",
                    target="all answered",
                    status="met",
                    cpu=figures.cpu_cell(),
                )
            )
