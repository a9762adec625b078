"""Scenario 6: RS256 against ES256.

In process: ``TokenSigner.sign`` with a freshly generated key of each algorithm (RSA at
libdockit's minimum size), per-token microseconds over a bounded loop. End to end: the
warm token rate (scenario 2's request) of a server with ``DOCKIT_KEY_ALGORITHM=ES256``
and of one with ``RS256``, one after the other, same settings.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime

from libdockit.keys.material import generate_key
from libdockit.tokens import TokenSigner

from .context import Bench, Probe
from .http_scenarios import prepare, warm_token_load
from .procs import SERVICE, started
from .results import Row, both_ratios

ALGORITHMS = ("ES256", "RS256")
ACCESS = [{"type": "repository", "name": "bench/app", "actions": ["pull"]}]


def sign_microseconds(algorithm: str, *, max_tokens: int = 5000, max_seconds: float = 2.0) -> float:
    key = generate_key("RS256" if algorithm == "RS256" else "ES256", now=datetime.now(UTC))
    signer = TokenSigner("dockit-bench", reuse_within_second=False)  # each one signed
    signer.sign(key, subject="bench", audience=SERVICE, access=ACCESS)  # prepares the header
    count = 0
    started_at = time.perf_counter()
    end = started_at + max_seconds
    while count < max_tokens and time.perf_counter() < end:
        signer.sign(key, subject="bench", audience=SERVICE, access=ACCESS)
        count += 1
    return (time.perf_counter() - started_at) / count * 1e6


def run(bench: Bench) -> None:
    report = bench.report
    per_token = {algorithm: sign_microseconds(algorithm) for algorithm in ALGORITHMS}
    with ExitStack() as stack:
        probes = []
        for algorithm in ALGORITHMS:
            env = {"DOCKIT_KEY_ALGORITHM": algorithm}
            directory = bench.directory(f"sign-{algorithm}")
            server = stack.enter_context(started(directory, workers=bench.options.workers, env=env))
            prepare(server)
            probes.append(Probe(f"6 {algorithm}", (server,), (warm_token_load(server),)))
        measured = dict(zip(ALGORITHMS, bench.measure_both(probes), strict=True))
    rates = {algorithm: pair.new_connection.rate for algorithm, pair in measured.items()}
    for algorithm, pair in measured.items():
        report.add(
            Row(
                number="6",
                scenario=f"{algorithm}: sign in process / warm token end to end",
                value=f"{per_token[algorithm]:,.0f} us/token; {pair.rates()}",
                ratio=both_ratios(report, pair.new_connection.rate, pair.keepalive.rate),
                target="report",
                cpu=pair.new_connection.cpu_cell(),
            )
        )
    es, rs = per_token["ES256"], per_token["RS256"]
    end_to_end = (rates["RS256"] / rates["ES256"] - 1) * 100
    if rs > es:
        verdict = (
            f"ES256 signs {rs / es:.1f}x faster ({es:,.0f} vs {rs:,.0f} us/token) and the "
            f"end-to-end rate with RS256 is {end_to_end:+.0f}% against ES256's: this supports "
            "keeping ES256 as the default (RS256 stays available for registries or "
            "verifiers that need it)."
        )
    else:
        verdict = (
            f"RS256 signed as fast as ES256 here ({rs:,.0f} vs {es:,.0f} us/token; end to "
            f"end {end_to_end:+.0f}%): signing cost alone does not decide the default."
        )
    report.note("Signing: " + verdict)
