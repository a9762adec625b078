"""The parts of a warm token request, each measured alone in CPU time.

``python3 -m bench.profile_app --parts`` prints these next to the whole request, so what a
warm token costs beyond them (Falcon, the middleware, parsing, the response) shows as the
difference. Each part is called in a bounded loop in several rounds on the app the profile
built; each figure is the median of the rounds' CPU microseconds per call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from libdockit.audit import RequestInfo
from libdockit.backends.sql.backend import SqlBackend
from libdockit.model import Identity
from libdockit.policy import decide, subjects_for
from libdockit.scope import parse_scopes
from libdockit.tokens import TokenSigner

from .app_harness import BenchApp
from .generate_store import BENCH_USER
from .procs import SERVICE

ROUNDS = 5
ACCESS = [{"type": "repository", "name": "bench/app", "actions": ["pull"]}]


def cpu_us(part: Callable[[], object], count: int) -> float:
    """Median over rounds of the CPU microseconds one call of ``part`` takes."""
    part()
    samples = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(count):
            part()
        samples.append((time.process_time() - started) / count * 1e6)
    return statistics.median(samples)


def parts(bench: BenchApp, scope: str, count: int) -> dict[str, float]:
    """CPU microseconds of each part of a warm token request for ``scope``."""
    components = bench.components
    key = components.tokens.keys.active()
    signer = TokenSigner("dockit", reuse_within_second=False)  # each one signed
    token = signer.sign(key, subject=BENCH_USER, audience=SERVICE, access=ACCESS).token
    signing_input = token.rsplit(".", 1)[0].encode("ascii")
    store = components.store_connection
    if not isinstance(store, SqlBackend):
        raise RuntimeError("the profile needs the SQL store")
    identity = Identity(BENCH_USER)
    subjects = subjects_for(identity)
    scopes = parse_scopes([scope])
    grants = store.grants_for_subjects(subjects)
    throttle_keys = ["client:127.0.0.1", "user:" + BENCH_USER]

    def store_reads() -> None:
        store.hold_connection()
        try:
            store.login_failures(throttle_keys)
            store.login_record(BENCH_USER)
            store.grants_for_subjects(subjects)
        finally:
            store.release_connection()

    audit = components.audit
    written = [0]

    def audit_event() -> None:
        if audit is None:
            return
        audit.token_decision(
            actor="user:" + BENCH_USER,
            service=SERVICE,
            requested=[scope],
            granted=[scope],
            outcome="issued",
            request=RequestInfo("127.0.0.1", "0123456789abcdef0123456789abcdef"),
        )
        written[0] += 1
        if written[0] % 100 == 0:  # the writer's batches, written inside the measured time
            audit.flush()

    ecdsa = ec.ECDSA(hashes.SHA256())
    private_key = key.private_key
    measured: dict[str, Callable[[], object]] = {
        "ES256 signature alone (cryptography)": (
            lambda: private_key.sign(signing_input, ecdsa)  # type: ignore[call-arg,arg-type]
        ),
        "token signing (TokenSigner.sign)": lambda: signer.sign(
            key, subject=BENCH_USER, audience=SERVICE, access=ACCESS
        ),
        "store reads: throttle, user, grants (one held connection)": store_reads,
        "scope parsing": lambda: parse_scopes([scope]),
        "policy decision (grants in hand)": lambda: decide(identity, grants, scopes),
        "audit: one token decision queued and written": audit_event,
    }
    return {name: cpu_us(part, count) for name, part in measured.items()}
