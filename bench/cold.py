"""Scenario 5: the cold password check.

The argon2id verify alone is timed in this process (libdockit's PasswordHasher with its
default parameters, the ones the server hashes with); the cold request is a token request
to a server with ``DOCKIT_PASSWORD_CACHE_SECONDS=0``, so every request verifies the hash.
The two are interleaved one by one, so both see the same machine load, and each is
summarised by its median. A third series, the same request to a server with the cache
on, shows how much of "the rest" any token request costs. Target: the rest of the cold
request (median request minus median verify) is at most 10% of the verify.

The cold request is measured twice: by the client (which includes the client's HTTP stack,
the TCP connection and gunicorn's parsing, the same for any request) and inside the server
(the ``duration_ms`` of each request in the cold server's JSON access log, from the first
middleware to the last: Dockit's own work). The target is judged on the time inside the
server, the part Dockit adds around the hash; both are reported.
"""

from __future__ import annotations

import json
import statistics
import time

from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret

from . import sequential
from .context import Bench, basic
from .http_scenarios import SCOPE, prepare, token_url
from .procs import started
from .results import Row, judge

USER, PASSWORD = "cold", "cold-pw-0123456789"
TARGET_PCT = 10.0


def verify_seconds(hasher: PasswordHasher, password_hash: str, password: Secret) -> float:
    started_at = time.perf_counter()
    if not hasher.verify(password_hash, password).ok:
        raise RuntimeError("the in-process argon2id verify did not match")
    return time.perf_counter() - started_at


def run(bench: Bench) -> None:
    hasher = PasswordHasher()
    secret = Secret(PASSWORD)
    password_hash = hasher.hash(secret)
    workers = bench.options.workers
    off = {"DOCKIT_PASSWORD_CACHE_SECONDS": "0", "DOCKIT_JSON_LOGS": "true"}
    headers = (basic(USER, PASSWORD),)
    with (
        started(bench.directory("cold"), workers=workers, env=off) as cold_server,
        started(bench.directory("warm"), workers=workers) as warm_server,
    ):
        urls = []
        for server in (cold_server, warm_server):
            prepare(server, USER, PASSWORD)
            urls.append(token_url(server, SCOPE))
            sequential.timed(urls[-1], headers, count=3)  # each worker imports and connects
        hashes: list[float] = []
        cold: list[float] = []
        warm: list[float] = []
        deadline = time.monotonic() + 180
        while len(cold) < bench.options.samples and time.monotonic() < deadline:
            hashes.append(verify_seconds(hasher, password_hash, secret))
            cold += sequential.timed(urls[0], headers, count=1)
            warm += sequential.timed(urls[1], headers, count=1)
        inside = server_durations(cold_server.all_logs())[-len(cold) :]
    params = hasher.parameters
    hash_ms, cold_ms, warm_ms = (statistics.median(s) * 1000 for s in (hashes, cold, warm))
    inside_ms = statistics.median(inside) if inside else float("nan")
    rest_ms, inside_rest_ms = cold_ms - hash_ms, inside_ms - hash_ms
    pct, inside_pct = rest_ms / hash_ms * 100, inside_rest_ms / hash_ms * 100
    bench.report.add(
        Row(
            number="5",
            scenario="cold password check (cache off)",
            value=(
                f"verify {hash_ms:.1f} ms; cold request in the server {inside_ms:.1f} ms, "
                f"at the client {cold_ms:.1f} ms; warm request at the client {warm_ms:.1f} ms "
                f"(medians of {len(cold)})"
            ),
            ratio=(
                f"rest = {inside_pct:.1f}% of hash in the server "
                f"({inside_rest_ms:.2f} ms), {pct:.1f}% at the client ({rest_ms:.1f} ms)"
            ),
            target=f"<= {TARGET_PCT:.0f}%",
            status=judge(inside_pct <= TARGET_PCT),
        )
    )
    bench.report.note(
        f"Cold check: argon2id m={params.memory_kib} KiB, t={params.time_cost}, "
        f"p={params.parallelism}, verified in this process; the cold request is a token "
        "request to a server with DOCKIT_PASSWORD_CACHE_SECONDS=0, the warm one the same "
        "request to a server with the cache on, interleaved one by one (sequential, one "
        f"connection per request). Spreads: verify {_spread(hashes)}, cold {_spread(cold)}, "
        f"warm {_spread(warm)}. Rest minus warm request = {rest_ms - warm_ms:+.1f} ms: what "
        "the cold path costs beyond the hash and a warm request. In the server (JSON access "
        f"log duration_ms, {len(inside)} requests): cold {inside_ms:.2f} ms median, the hash "
        "verified in the bench process; at the client the same request also carries the "
        "client's HTTP stack, a new TCP connection and gunicorn's parsing, which a warm "
        f"request pays too ({warm_ms:.1f} ms in all)."
    )


def server_durations(log: str) -> list[float]:
    """Milliseconds of each answered token request, in order, from a JSON access log."""
    found: list[float] = []
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("path") == "/v2/token" and entry.get("status") == 200:
            found.append(float(entry["duration_ms"]))
    return found


def _spread(samples: list[float]) -> str:
    return f"{min(samples) * 1000:.1f}-{max(samples) * 1000:.1f} ms"
