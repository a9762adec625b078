"""Where a request's CPU time goes, by sampling: ``python3 -m bench.profile_app --sample``.

cProfile charges its own overhead to every Python call, so it inflates Python code against
C (the signature, SQLite). This samples instead: a CPU-time timer (``ITIMER_PROF``) stops
the process every half millisecond and the stack is charged to the *area* of its innermost
frame that names one (the signature, SQLite, Falcon, the audit log ...), or to the audit
writer when the stack is writing queued events. Time spent in C with the GIL released (the
ECDSA signature) is charged to the first Python line that runs after it, which is still the
signature's. The result is each area's share of the samples; times the request's CPU time
it is microseconds.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any

from .app_harness import BenchApp, call

INTERVAL = 0.0005
#: (area, markers): a frame belongs to the first area one of whose markers is in
#: "file:function" (file relative to site-packages or the repository).
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ES256 signature", ("jws.py:sign", "asymmetric/ec.py:", "<frozen abc>")),
    ("SQLite statements", ("peewee.py:_execute_cursor", "peewee.py:cursor", "execute_sql")),
    (
        "store connection (pool)",
        ("playhouse/pool.py:", "peewee.py:", "release_connection", "hold_connection"),
    ),
    ("SQL backend (Python)", ("backends/sql/",)),
    ("audit on the request", ("libdockit/audit.py", "submit")),
    ("metrics", ("metrics.py:", "metric_values.py:", "prometheus_client", "instrument.py")),
    ("claims, base64url, token id", ("libdockit/tokens.py", "jws.py:", "base64.py")),
    ("JSON", ("json/",)),
    ("records (dataclasses)", ("<string>:__init__",)),
    ("policy", ("libdockit/policy.py", "libdockit/patterns.py", "libdockit/scope.py")),
    ("login (service, throttle, password cache)", ("libdockit/",)),
    ("token resource and middleware", ("dockit_server/",)),
    ("Falcon", ("falcon/",)),
)
WRITER = "audit writer (queued events)"
OTHER = "other (harness)"


def _name(frame: FrameType) -> str:
    path = frame.f_code.co_filename.split("site-packages/")[-1]
    return f"{path}:{frame.f_code.co_name}"


def _area(frame: FrameType | None) -> str:
    names = []
    while frame is not None:
        names.append(_name(frame))
        frame = frame.f_back
    if any("audit_writer.py:flush" in name or "audit_writer.py:_run" in name for name in names):
        return WRITER
    for name in names:
        for area, markers in AREAS:
            if any(marker in name for marker in markers):
                return area
    return OTHER


def shares(bench: BenchApp, make: Callable[[], dict[str, Any]], seconds: float) -> dict[str, float]:
    """Each area's share of ``seconds`` of CPU time spent answering ``make``'s request."""

    found: Counter[str] = Counter()

    def sample(signum: int, frame: FrameType | None) -> None:
        found[_area(frame)] += 1

    previous = signal.signal(signal.SIGPROF, sample)
    try:
        end = time.process_time() + seconds
        while time.process_time() < end:
            environs = [make() for _ in range(200)]  # not sampled: the harness's work
            signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)
            for environ in environs:
                call(bench.app, environ)
            bench.settle()  # the writer's share is part of each request's cost
            signal.setitimer(signal.ITIMER_PROF, 0, 0)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, previous)
    total = sum(found.values()) or 1
    return {area: count / total for area, count in found.most_common()}
