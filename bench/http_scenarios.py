"""Scenarios 1-4 on one server (same gunicorn settings for the baseline and each ratio):

1. ``GET /healthz``: the baseline every ratio is taken against;
2. warm token request: Basic auth with cached credentials, ES256, one repository scope;
   and the same request with a repository not asked for before in every request, so no
   token (nor decision) can be reused: each one is decided and signed;
3. anonymous token on a public repository;
4. refresh-token ``POST /v2/token`` (``grant_type=refresh_token``);
12. robot token: Basic auth with a robot account's ``dkt_`` secret (a hashed lookup, no
    argon2), ES256, one repository scope, also as a ratio to the warm token;

and the limit of this stack: :mod:`bench.minimal_app`, a Falcon app that only signs a fixed
ES256 token, served the same way. Every rate is measured twice, with a new connection per
request and with kept-alive connections, all in the same interleaved rounds; each ratio is
to the /healthz baseline measured the same way.

Also the load generator check: wrk's own CPU during the baseline, and the baseline with
two wrk threads instead of one.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

from tests.support.dockit import DockitServer, http_request

from . import profile_app, sequential
from .context import Bench, Measured, Pair, Probe, basic
from .procs import SERVICE, started, started_module
from .results import NOT_AVAILABLE, Row, fmt_rate, judge, ratio_to_baseline
from .wrk import Load

USER, PASSWORD = "bench", "bench-pw-0123456789"
SCOPE = "repository:bench/app:pull"
#: Scenario 2 with a new repository each request: under the bench user's grant ``bench/**``.
FRESH_REPOSITORY = "bench/fresh-"
FRESH_NAME = "warm token, a new repository each request (no reuse)"
PUBLIC_SCOPE = "repository:public/app:pull"
CLIENT_ID = "bench"
TARGETS = {2: 0.6, 3: 0.6, 4: 0.5, 12: 0.6}
#: CPU microseconds per request in process (issue "Serving model", the token path itself).
IN_PROCESS_TARGETS = {"warm token": 120, "anonymous token": 90}
#: Requests of each kind and variant the in-process breakdown measures (in 7 rounds).
IN_PROCESS_REQUESTS = 3500
ROBOT = profile_app.ROBOT


def prepare(server: DockitServer, user: str = USER, password: str = PASSWORD) -> None:
    """The bench user with a grant on its repository, and a public repository."""
    server.create_user(user, password)
    server.grant(f"user:{user}", "repository:bench/**:pull,push")
    server.grant("anonymous", "repository:public/*:pull")


def token_url(server: DockitServer, scope: str, **extra: str) -> str:
    return server.url + "/v2/token?" + urlencode({"service": SERVICE, "scope": scope, **extra})


def warm_token_load(server: DockitServer, user: str = USER, password: str = PASSWORD) -> Load:
    """Scenario 2's request, checked once (200 with a token) before it is used for load."""
    load = Load(token_url(server, SCOPE), headers=(basic(user, password),))
    _expect_token(load)
    return load


def robot_token_load(server: DockitServer) -> Load:
    """Scenario 12's request: the warm token's, by a robot with the bench user's grant."""
    secret = profile_app.add_robot(f"sqlite:///{server.database_path}")
    load = Load(token_url(server, SCOPE), headers=(basic(ROBOT, secret),))
    _expect_token(load)
    return load


def fresh_repository_load(server: DockitServer) -> Load:
    """Scenario 2's request, each for a repository no request asked for before (wrk writes
    its name: see :attr:`Load.unique_path`), so neither a token of the same second nor a
    remembered decision serves it. Two such names are checked first: 200, pull granted."""
    headers = (basic(USER, PASSWORD),)
    for check in ("check-1", "check-2"):
        name = FRESH_REPOSITORY + check
        status, body = sequential.request(token_url(server, f"repository:{name}:pull"), headers)
        granted = _access(json.loads(body)["token"]) if status == 200 else None
        if granted != [{"type": "repository", "name": name, "actions": ["pull"]}]:
            raise RuntimeError(f"{name}: HTTP {status}, access {granted}: {body[:300]!r}")
    before = "/v2/token?" + urlencode({"service": SERVICE}) + "&scope="
    prefix = quote(f"repository:{FRESH_REPOSITORY}", safe="")
    return Load(
        server.url + "/v2/token",
        headers=headers,
        unique_path=(before + prefix, quote(":pull", safe="")),
    )


def _access(token: str) -> object:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["access"]


def _expect_token(load: Load) -> None:
    status, body = sequential.request(load.url, load.headers)
    if status != 200 or "token" not in json.loads(body):
        raise RuntimeError(f"GET {load.url}: HTTP {status}: {body[:300]!r}")


def _rate_row(
    bench: Bench,
    number: int,
    name: str,
    measured: Measured,
    *,
    keepalive: bool,
    judged: bool = True,
) -> Row:
    """A rate and its ratio to /healthz; judged against the scenario's target if it has
    one and ``judged``, else reported only."""
    ratio_text, ratio = ratio_to_baseline(bench.report, measured.rate, keepalive=keepalive)
    target = TARGETS.get(number) if judged else None
    mode = "kept alive" if keepalive else "new connection"
    return Row(
        number=str(number),
        scenario=f"{name}, {mode}",
        value=f"{fmt_rate(measured.rate)} ({measured.latency()})",
        ratio=ratio_text,
        target=f">= {target}x" if target else "baseline" if number == 1 else "report",
        status=judge(ratio >= target) if target and ratio is not None else "-",
        cpu=measured.cpu_cell(),
    )


def _minimal_rows(bench: Bench, minimal: Pair, warm: Pair | None) -> None:
    """The minimal app's rates, and the warm token against them."""
    for keepalive, figures in ((False, minimal.new_connection), (True, minimal.keepalive)):
        ratio_text, _ = ratio_to_baseline(bench.report, figures.rate, keepalive=keepalive)
        mode = "kept alive" if keepalive else "new connection"
        against = ""
        if warm is not None:
            token = warm.keepalive if keepalive else warm.new_connection
            against = f"; warm token = {token.rate / figures.rate:.2f}x this"
        bench.report.add(
            Row(
                "M",
                f"minimal Falcon app signing a fixed ES256 token, {mode}",
                f"{fmt_rate(figures.rate)} ({figures.latency()})",
                ratio=ratio_text + against,
                target="the stack's limit",
                cpu=figures.cpu_cell(),
            )
        )


def _fresh_rows(bench: Bench, fresh: Pair, warm: Pair) -> None:
    """Scenario 2 when nothing can be reused, both ways, and against scenario 2."""
    for keepalive, figures in ((False, fresh.new_connection), (True, fresh.keepalive)):
        bench.report.add(
            _rate_row(bench, 2, FRESH_NAME, figures, keepalive=keepalive, judged=False)
        )
    bench.report.note(
        "Scenario 2 asks for the same scope in every request, so within a second its "
        "tokens are signed once and reused (TokenSigner, reuse_within_second), as in a pull "
        f"storm; '{FRESH_NAME}' asks for a repository no request asked for before, so each "
        "token is decided and signed anew: "
        f"{fresh.new_connection.rate / warm.new_connection.rate:.2f}x scenario 2's rate "
        f"with a new connection per request, {fresh.keepalive.rate / warm.keepalive.rate:.2f}x "
        "kept alive."
    )


def _refresh_load(server: DockitServer) -> Load | str:
    """Scenario 4's POST, or why it cannot run (the endpoint is not there yet)."""
    url = (
        server.url
        + "/v2/token?"
        + urlencode({"service": SERVICE, "offline_token": "true", "client_id": CLIENT_ID})
    )
    status, body = sequential.request(url, (basic(USER, PASSWORD),))
    refresh = json.loads(body).get("refresh_token") if status == 200 else None
    if not refresh:
        return f"GET offline_token=true answered HTTP {status} without a refresh_token"
    form = urlencode(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "service": SERVICE,
            "client_id": CLIENT_ID,
            "scope": SCOPE,
        }
    )
    answer = _post(server, form)
    if answer[0] != 200:
        return f"POST /v2/token grant_type=refresh_token answered HTTP {answer[0]}: {answer[1]}"
    return Load(server.url + "/v2/token", form_body=form)


def _post(server: DockitServer, form: str) -> tuple[int, str]:
    response = http_request(
        server.url + "/v2/token",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=form.encode(),
        timeout=30,
    )
    return response.status, response.body[:300].decode(errors="replace")


NAMES = {
    1: "/healthz (baseline)",
    2: "warm token (Basic, cached, ES256)",
    3: "anonymous token (public repo)",
    4: "refresh-token POST",
    12: "robot token (dkt_ secret, ES256)",
}


def _loads(server: DockitServer, wanted: set[int]) -> tuple[dict[int, Load], list[Row]]:
    """The loads to measure, each checked once, and rows for those that cannot run."""
    loads = {1: Load(server.url + "/healthz")}
    unavailable = []
    if 2 in wanted:
        loads[2] = warm_token_load(server)
    if 3 in wanted:
        loads[3] = Load(token_url(server, PUBLIC_SCOPE))
        _expect_token(loads[3])
    if 12 in wanted:
        loads[12] = robot_token_load(server)
    if 4 in wanted:
        refresh = _refresh_load(server)
        if isinstance(refresh, str):
            row = Row(
                "4", NAMES[4], "not available: " + refresh, target=">= 0.5x", status=NOT_AVAILABLE
            )
            unavailable.append(row)
        else:
            loads[4] = refresh
    return loads, unavailable


def run(bench: Bench, wanted: set[int]) -> None:
    """The baseline, scenarios 2-4 and the minimal app, each with a new connection per
    request and kept alive, in interleaved rounds (Dockit on one server)."""
    report = bench.report
    workers = bench.options.workers
    with (
        started(bench.directory("http"), workers=workers) as server,
        started_module(
            bench.directory("minimal"), "bench.minimal_app", workers=workers, ready_path="/token"
        ) as minimal,
    ):
        prepare(server)
        loads, unavailable = _loads(server, wanted)
        probes = [Probe(f"{n} {NAMES[n]}", (server,), (load,)) for n, load in loads.items()]
        if 2 in loads:
            fresh_load = fresh_repository_load(server)
            probes.append(Probe(f"2 {FRESH_NAME}", (server,), (fresh_load,)))
        probes.append(Probe("M minimal app", (minimal,), (Load(minimal.url + "/token"),)))
        pairs = bench.measure_both(probes)
        measured = dict(zip(loads, pairs, strict=False))
        fresh = pairs[len(loads)] if 2 in loads else None
        report.baseline_rate = measured[1].new_connection.rate
        report.baseline_keepalive_rate = measured[1].keepalive.rate
        for number, pair in measured.items():
            report.add(
                _rate_row(bench, number, NAMES[number], pair.new_connection, keepalive=False)
            )
            report.add(_rate_row(bench, number, NAMES[number], pair.keepalive, keepalive=True))
            if number == 2 and fresh is not None:
                _fresh_rows(bench, fresh, pair)
        _minimal_rows(bench, pairs[-1], measured.get(2))
        if 12 in measured and 2 in measured:
            robot, warm = measured[12], measured[2]
            report.note(
                "Robot token (scenario 12) against the warm password token (2): "
                f"{robot.new_connection.rate / warm.new_connection.rate:.2f}x with a new "
                f"connection per request, {robot.keepalive.rate / warm.keepalive.rate:.2f}x "
                "kept alive."
            )
        for row in unavailable:
            report.add(row)
        rounds = measured[1].new_connection.round_rates
        kept = measured[1].keepalive.round_rates
        report.note(
            f"Steadiness: /healthz ranged {min(rounds):,.0f}-{max(rounds):,.0f} req/s with a "
            f"new connection per request and {min(kept):,.0f}-{max(kept):,.0f} kept alive over "
            f"{len(rounds)} rounds; each figure of scenarios 1-4 and M is the mean over its "
            "rounds, interleaved with the others'. 'new connection': every request says "
            "Connection: close, so wrk opens a TCP connection per request (what every request "
            "cost under the sync workers); 'kept alive': wrk's connections serve request after "
            "request, as docker, containerd, skopeo and podman keep theirs."
        )
        _load_generator_check(
            bench, server, loads[1].with_keepalive(False), measured[1].new_connection
        )
    if wanted & {2, 3, 4, 12}:
        _where_the_time_goes(bench)


def _where_the_time_goes(bench: Bench) -> None:
    """The in-process breakdown of bench.profile_app, for the misses' explanation."""
    print("  in-process breakdown (bench.profile_app)", flush=True)
    found = profile_app.breakdown(IN_PROCESS_REQUESTS)
    bench.report.sections.append(
        (
            "Where the time goes (in process)",
            "`python3 -m bench.profile_app`: the app as a worker builds it, called directly "
            "(no gunicorn, no sockets), CPU microseconds per request (every thread of the "
            "process, the audit events written inside the measured time), "
            f"{IN_PROCESS_REQUESTS:,} of each in interleaved rounds; add up the server "
            "CPU/req column's gunicorn share (about the "
            "/healthz figure) to compare with the table above.\n\n"
            + found.markdown()
            + f"\n\nWarm token, share of its profiled time: {found.share_text()} "
            "(cProfile inflates Python code against C).",
        )
    )
    # Each kind repeats one request, so by default its tokens are reused within a second;
    # the second row of each signs every token, as requests that differ do.
    for kind, target in IN_PROCESS_TARGETS.items():
        for variant, how in (("defaults", ""), ("no token reuse", ", every token signed")):
            spent = found.table[kind][variant]
            bench.report.add(
                Row(
                    "P",
                    f"in process: {kind}{how} (bench.profile_app, no gunicorn)",
                    f"{spent:,.0f} us CPU per request",
                    ratio=f"{spent / found.table['/healthz'][variant]:.1f}x /healthz in process",
                    target=f"<= {target} us",
                    status=judge(spent <= target),
                )
            )
    minimal = profile_app.minimal_app_us(IN_PROCESS_REQUESTS)
    bench.report.note(
        f"In process the minimal app (scenario M) costs {minimal:,.0f} us CPU per request: "
        "what signing one ES256 token behind Falcon costs before any user, grant, audit "
        "event or metric. Its kept-alive ratio to /healthz is the most any token can reach "
        "on this stack."
    )
    token = found.table["warm token"]
    bench.report.note(
        f"In process, a warm token costs {token['defaults']:,.0f} us ({token['audit off']:,.0f} "
        f"us with the audit log off, {token['no token reuse']:,.0f} us signing every token); "
        f"/healthz {found.table['/healthz']['defaults']:,.0f} us. "
        f"Profiled: {found.share_text()}. In process, {found.robot_text()}."
    )


def _load_generator_check(
    bench: Bench, server: DockitServer, health: Load, baseline: Measured
) -> None:
    """One line: did wrk have CPU to spare, and does a second wrk thread change the rate?"""
    threads = bench.options.threads
    other = 2 if threads == 1 else 1
    probes = [
        Probe(f"/healthz with wrk -t{n}", (server,), (health,), threads=n) for n in (threads, other)
    ]
    mine, second = bench.measure(probes, connections=max(bench.options.connections, other))
    bench.report.note(
        f"Load generator: wrk used at most {baseline.wrk_cpu_share:.0%} of one core in any "
        f"baseline round; /healthz with wrk -t{threads}: {fmt_rate(mine.rate)}, with "
        f"-t{other}: {fmt_rate(second.rate)} ({(second.rate / mine.rate - 1) * 100:+.0f}%), "
        "interleaved."
    )
