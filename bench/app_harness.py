"""The app a gunicorn worker builds, built in this process over a temporary SQLite store,
and the requests the in-process benchmarks send it (:mod:`bench.profile_app`,
:mod:`bench.profile_parts`, :mod:`bench.profile_sample`, :mod:`bench.profile_compare`)."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from falcon import testing

from dockit_server.components import Components
from tests.support.access_credentials import CredentialStore

from .context import basic, refresh_form
from .generate_store import BENCH_PASSWORD, BENCH_USER
from .procs import SERVICE

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Environ = dict[str, Any]
#: The requests of scenarios 2-4 (bench.http_scenarios) and the grants they meet.
SCOPE = "repository:bench/app:pull"
PUBLIC_SCOPE = "repository:public/app:pull"
GRANTS = (
    ("user:" + BENCH_USER, "repository:bench/**:pull,push"),
    ("anonymous", "repository:public/*:pull"),
)
ROUNDS = 7
#: A robot account with the bench user's grant on ``bench/**``, logging in with its secret.
ROBOT = "bench-robot"


@dataclass(frozen=True, slots=True)
class BenchApp:
    """The WSGI app a worker serves, the collaborators it was built from, and the secret of
    a robot account that may do what the bench user may (:data:`ROBOT`)."""

    app: WsgiApp
    components: Components
    robot_secret: str

    def settle(self) -> None:
        """Write the audit events queued so far (the writer thread would, within 1 s)."""
        if self.components.audit is not None:
            self.components.audit.flush()


def build(workdir: Path, **settings: Any) -> BenchApp:
    from dockit_server.app import create_app
    from dockit_server.bootstrap import build_components, prepare
    from dockit_server.config import Settings
    from libdockit.audit import Actor
    from libdockit.secret import Secret

    config = Settings(
        database_url=Secret(f"sqlite:///{workdir / 'dockit.db'}"),
        token_services=(SERVICE,),
        admin_password=Secret("bench-admin-pw"),
        **settings,
    )
    prepare(config)
    components = build_components(config)
    bench = Actor.system("bench")
    components.admin.create_user(BENCH_USER, Secret(BENCH_PASSWORD), actor=bench)
    for subject, scope in GRANTS:
        components.admin.add_grant_from_scope(subject, scope, actor=bench)
    robot = add_robot(str(config.database_url.reveal()))
    return BenchApp(create_app(components), components, robot)


def add_robot(database_url: str) -> str:
    """:data:`ROBOT`, owned by the bench user, with its grant on ``bench/**``; its secret."""
    store = CredentialStore(database_url)
    made = store.make("robot", ROBOT, "user:" + BENCH_USER, expires_in=timedelta(days=1))
    store.grant("robot:" + ROBOT, "repository", "bench/**", "pull", "push")
    return made.secret


def requests_of(bench: BenchApp) -> dict[str, Callable[[], Environ]]:
    """A fresh WSGI environ per call (a POST body is a stream, read once)."""
    auth = dict([basic(BENCH_USER, BENCH_PASSWORD)])
    robot = dict([basic(ROBOT, bench.robot_secret)])
    offline = testing.create_environ(
        path="/v2/token",
        query_string=f"service={SERVICE}&offline_token=true&client_id=bench",
        headers=auth,
    )
    refresh = json.loads(call(bench.app, offline))["refresh_token"]
    form = refresh_form(refresh, service=SERVICE, scope=SCOPE)
    return {
        "/healthz": lambda: testing.create_environ(path="/healthz"),
        "warm token": lambda: testing.create_environ(
            path="/v2/token", query_string=f"service={SERVICE}&scope={SCOPE}", headers=auth
        ),
        "robot token": lambda: testing.create_environ(
            path="/v2/token", query_string=f"service={SERVICE}&scope={SCOPE}", headers=robot
        ),
        "anonymous token": lambda: testing.create_environ(
            path="/v2/token", query_string=f"service={SERVICE}&scope={PUBLIC_SCOPE}"
        ),
        "refresh POST": lambda: testing.create_environ(
            method="POST",
            path="/v2/token",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
    }


def call(app: WsgiApp, environ: Environ) -> bytes:
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    if not status or not status[0].startswith("200"):
        raise RuntimeError(f"{environ['PATH_INFO']}: {status} {body[:200]!r}")
    return body


def per_request_us(bench: BenchApp, make: Callable[[], Environ], count: int) -> float:
    """CPU microseconds per request over ``count`` requests, their audit events written."""
    environs = [make() for _ in range(count)]
    bench.settle()
    started = time.process_time()
    for environ in environs:
        call(bench.app, environ)
    bench.settle()
    return (time.process_time() - started) / count * 1e6


def interleaved_us(
    benches: dict[str, BenchApp], makers: dict[str, Callable[[], Environ]], count: int
) -> dict[str, float]:
    """CPU microseconds per request of each app, in interleaved rounds; medians."""
    samples: dict[str, list[float]] = {name: [] for name in benches}
    for name, bench in benches.items():
        per_request_us(bench, makers[name], 20)  # warm-up
    for _ in range(ROUNDS):
        for name, bench in benches.items():
            samples[name].append(per_request_us(bench, makers[name], max(1, count // ROUNDS)))
    return {name: statistics.median(values) for name, values in samples.items()}
