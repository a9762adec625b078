"""Well-behaved clients' latency while others press on the server, against the same
clients on the same server without them, in interleaved rounds (quiet, pressed, quiet,
pressed, ...):

* :func:`slow_clients`: 1,000 idle connections and 100 clients sending a request one byte
  a second (:mod:`bench.attacker`, a process of its own, reconnecting what is cut);
* :func:`hung_directory`: slapd paused with SIGSTOP while 50 directory logins are kept in
  flight (each one re-sent as soon as it is answered).

The well-behaved clients are wrk runs that fail nothing: an answer other than 200, or a
socket error or timeout, is counted and reported, since a serving model that stalls is a
result here.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from tests.support.dockit import DockitServer, basic_auth, http_request
from tests.support.procs import paused

from . import wrk
from .procs import ROOT

ROUNDS = 3
SECONDS = 2
IDLE = 1000
SLOW = 100
HUNG_LOGINS = 50


@dataclass
class Figures:
    """One well-behaved load's p99 over the rounds, quiet and pressed."""

    quiet_p99: list[float] = field(default_factory=list)
    pressed_p99: list[float] = field(default_factory=list)
    requests: int = 0
    failures: int = 0  # non-2xx, socket errors, timeouts, under pressure

    @property
    def ratio(self) -> float:
        quiet = statistics.median(self.quiet_p99) if self.quiet_p99 else 0.0
        pressed = statistics.median(self.pressed_p99) if self.pressed_p99 else float("inf")
        return pressed / quiet if quiet else float("inf")

    def text(self) -> str:
        quiet = statistics.median(self.quiet_p99) if self.quiet_p99 else float("nan")
        pressed = statistics.median(self.pressed_p99) if self.pressed_p99 else float("nan")
        failed = f", {self.failures:,} failed" if self.failures else ""
        return f"p99 {quiet:.2f} -> {pressed:.2f} ms ({self.ratio:.2f}x{failed})"


def _run(load: wrk.Load, connections: int) -> wrk.WrkResult | None:
    try:
        return wrk.run(load, duration=SECONDS, threads=1, connections=connections)
    except wrk.WrkError:
        return None  # wrk could not finish (a stalled server): counted as a failure


def _record(figures: Figures, result: wrk.WrkResult | None, *, pressed: bool) -> None:
    if result is None:
        figures.failures += 1
        if pressed:
            figures.pressed_p99.append(float("inf"))
        return
    p99 = result.latency_ms.get(99, float("inf")) if result.requests else float("inf")
    (figures.pressed_p99 if pressed else figures.quiet_p99).append(p99)
    if pressed:
        figures.requests += result.requests
        figures.failures += result.non_2xx + result.socket_errors


def interleaved(
    loads: Sequence[wrk.Load],
    pressure: Callable[[], AbstractContextManager[object]],
    *,
    connections: int = 2,
) -> list[Figures]:
    """p99 of each load, quiet and under ``pressure()``, in :data:`ROUNDS` rounds."""
    figures = [Figures() for _ in loads]
    for _ in range(ROUNDS):
        for load, found in zip(loads, figures, strict=True):
            _record(found, _run(load, connections), pressed=False)
        with pressure():
            for load, found in zip(loads, figures, strict=True):
                _record(found, _run(load, connections), pressed=True)
    return figures


@contextmanager
def slow_clients(
    server: DockitServer,
    seen: list[dict[str, int]],
    *,
    tls_ca: str | None = None,
    settle: float = 2.0,
) -> Iterator[None]:
    """:data:`IDLE` idle and :data:`SLOW` slow clients for the block (:mod:`bench.attacker`;
    with ``tls_ca`` the slow ones speak TLS); what the attacker saw is appended to ``seen``."""
    args = [sys.executable, "-m", "bench.attacker", "--port", str(server.port)]
    args += ["--idle", str(IDLE), "--slow", str(SLOW)]
    if tls_ca is not None:
        args += ["--tls-ca", tls_ca]
    attacker = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        time.sleep(settle)  # every connection made
        yield
    finally:
        attacker.send_signal(signal.SIGTERM)
        try:
            out, _ = attacker.communicate(timeout=30)
            seen.append(json.loads(out or "{}"))
        except (subprocess.TimeoutExpired, ValueError):
            attacker.kill()
            attacker.wait(timeout=10)


@contextmanager
def hung_directory(
    slapd_pid: int, url: str, creds: tuple[str, str], statuses: list[int], *, settle: float = 0.5
) -> Iterator[None]:
    """slapd paused and :data:`HUNG_LOGINS` directory logins in flight for the block; the
    statuses of the logins answered meanwhile are appended to ``statuses``."""
    stop = threading.Event()
    headers = {"Authorization": basic_auth(creds)}

    def keep_logging_in() -> None:
        while not stop.is_set():
            try:
                statuses.append(http_request(url, headers=headers, timeout=60).status)
            except OSError:
                statuses.append(0)

    threads = [threading.Thread(target=keep_logging_in, daemon=True) for _ in range(HUNG_LOGINS)]
    with paused([slapd_pid]):
        for thread in threads:
            thread.start()
        time.sleep(settle)
        try:
            yield
        finally:
            stop.set()
    for thread in threads:  # slapd is back: the last logins end at once
        thread.join(timeout=60)
