"""Sequential requests, one at a time, for latencies where concurrency would blur them.

Each request opens its own connection (the cost a client pays that does not keep its
connections). Every request has a timeout and the loop a count and a deadline.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

TIMEOUT = 30.0


def request(url: str, headers: Sequence[tuple[str, str]] = ()) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=TIMEOUT)
    try:
        path = parts.path + ("?" + parts.query if parts.query else "")
        conn.request("GET", path, headers=dict(headers))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def timed(
    url: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    count: int,
    deadline_s: float = 120.0,
) -> list[float]:
    """Seconds each of up to ``count`` requests took (fewer if ``deadline_s`` passes);
    any answer but 200 raises."""
    samples: list[float] = []
    end = time.monotonic() + deadline_s
    while len(samples) < count and time.monotonic() < end:
        started = time.perf_counter()
        status, body = request(url, headers)
        samples.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"GET {url}: HTTP {status}: {body[:300]!r}")
    if not samples:
        raise RuntimeError(f"no request to {url} finished in {deadline_s} s")
    return samples
