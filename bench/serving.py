"""Scenario 11: the serving model, chosen by measurement.

The same Dockit (SQLite, an LDAP directory on a real slapd, default settings) under four
gunicorn worker classes (:mod:`bench.serve_as`): ``dockit`` (the default: gevent with a
read deadline, dockit_server.worker), gunicorn's own ``gevent``, ``gthread`` (16 threads a
worker) and ``sync``; two workers each. Each model, on the same scenarios:

* rates: ``/healthz`` and the warm token, with a new connection per request and kept alive,
  every model's in the same interleaved rounds;
* slow clients: a warm token's p99 (wrk, 2 connections) with 1,000 idle connections and
  100 clients sending a request one byte a second, against the same without them
  (:func:`bench.pressure.slow_clients`; target: at most 2x);
* a hung directory: local-user, refresh-token and anonymous tokens' p99 while 50 directory
  logins hang on a paused slapd, against the same without (target: at most 2x);
* a storm: 500 clients at once (:func:`bench.storm.bursts`);

and Dockit's worker serving HTTPS itself (``server.tls_cert_file``) under the same slow
clients (the idle ones never start TLS, the slow ones trickle their request over TLS).

A model that stalls is a result, not an error: its failed requests are counted.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest

from tests.support.dockit import DockitServer, basic_auth, http_request
from tests.support.procs import children
from tests.support.slapd import DirectoryPki, Slapd

from . import pressure
from .context import Bench, Pair, Probe, basic, refresh_form
from .directory import write_config
from .http_scenarios import (
    PASSWORD,
    PUBLIC_SCOPE,
    SCOPE,
    USER,
    prepare,
    token_url,
    warm_token_load,
)
from .procs import SERVICE, started_module
from .results import NOT_AVAILABLE, Row, fmt_rate
from .storm import Bursts, bursts
from .wrk import Load

MODELS = ("dockit", "gevent", "gthread", "sync")
DIRECTORY_USER = ("alice", "alice-pw")


@dataclass
class ModelFigures:
    rates: dict[str, Pair] = field(default_factory=dict)
    slow: pressure.Figures | None = None
    attacker: dict[str, int] = field(default_factory=dict)
    hung: dict[str, pressure.Figures] = field(default_factory=dict)
    hung_statuses: dict[int, int] = field(default_factory=dict)
    storm: Bursts | None = None
    killed: int = 0  # workers replaced during the scenarios


def _refresh_load(server: DockitServer) -> Load:
    url = token_url(server, "", offline_token="true", client_id="bench")
    answer = http_request(url, headers={"Authorization": basic_auth((USER, PASSWORD))})
    refresh = json.loads(answer.body)["refresh_token"]
    form = refresh_form(refresh, service=SERVICE, scope=SCOPE)
    return Load(server.url + "/v2/token", form_body=form)


def _start(stack: ExitStack, bench: Bench, slapd: Slapd, model: str) -> DockitServer:
    directory = bench.directory(f"serving-{model}")
    env = {"DOCKIT_CONFIG": str(write_config(slapd, directory, cold=True))}
    server = stack.enter_context(
        started_module(
            directory, "bench.serve_as", (model,), workers=bench.options.workers, env=env
        )
    )
    prepare(server)
    server.grant("group:developers", "repository:dev/**:pull")
    return server


def _pressures(server: DockitServer, slapd: Slapd, figures: ModelFigures) -> None:
    warm = warm_token_load(server)
    seen: list[dict[str, int]] = []
    (figures.slow,) = pressure.interleaved([warm], lambda: pressure.slow_clients(server, seen))
    for counts in seen:
        for name, value in counts.items():
            figures.attacker[name] = figures.attacker.get(name, 0) + value
    loads = {
        "local user": warm,
        "refresh token": _refresh_load(server),
        "anonymous": Load(token_url(server, PUBLIC_SCOPE)),
    }
    login = token_url(server, "repository:dev/app:pull")
    statuses: list[int] = []
    assert slapd.pid is not None
    pid = slapd.pid
    found = pressure.interleaved(
        list(loads.values()),
        lambda: pressure.hung_directory(pid, login, DIRECTORY_USER, statuses),
    )
    figures.hung = dict(zip(loads, found, strict=True))
    for status in statuses:
        figures.hung_statuses[status] = figures.hung_statuses.get(status, 0) + 1


def run(bench: Bench) -> None:
    report = bench.report
    try:
        slapd = Slapd(bench.directory("serving-slapd"))
    except pytest.skip.Exception as exc:
        report.add(Row("11", "serving models", f"not available: {exc}", status=NOT_AVAILABLE))
        return
    figures = {model: ModelFigures() for model in MODELS}
    with slapd, ExitStack() as stack:
        servers = {model: _start(stack, bench, slapd, model) for model in MODELS}
        workers = {model: children(s.pid or 0) for model, s in servers.items()}
        probes = []
        for model, server in servers.items():
            probes.append(
                Probe(f"11 {model} /healthz", (server,), (Load(server.url + "/healthz"),))
            )
            probes.append(Probe(f"11 {model} warm token", (server,), (warm_token_load(server),)))
        pairs = bench.measure_both(probes)
        for index, model in enumerate(MODELS):
            figures[model].rates = {"healthz": pairs[2 * index], "token": pairs[2 * index + 1]}
        for model, server in servers.items():
            print(f"  {model}: slow clients, hung directory, storm", flush=True)
            _pressures(server, slapd, figures[model])
            figures[model].storm = bursts(server)
            now = children(server.pid or 0)
            figures[model].killed = len(workers[model] - now)
        https = _https_slow_clients(bench, stack)
    _report(bench, figures)
    report.add(
        Row(
            "11",
            f"dockit over HTTPS: warm token, {pressure.IDLE:,} idle + {pressure.SLOW} slow "
            "TLS clients",
            https.text(),
            ratio=f"{https.ratio:.2f}x quiet p99",
            target="<= 2x, no failure",
            status=_ratio_status(https.ratio, https.failures),
        )
    )


def _https_slow_clients(bench: Bench, stack: ExitStack) -> pressure.Figures:
    """Dockit serving HTTPS itself, quiet and under the slow clients (TLS)."""
    directory = bench.directory("serving-https")
    pki = DirectoryPki.create(directory / "pki")
    env = {
        "DOCKIT_TLS_CERT_FILE": str(pki.server_cert_file),
        "DOCKIT_TLS_KEY_FILE": str(pki.server_key_file),
    }
    server = stack.enter_context(
        started_module(
            directory,
            "bench.serve_as",
            ("dockit",),
            workers=bench.options.workers,
            env=env,
            ca_file=str(pki.ca_file),
        )
    )
    prepare(server)
    seen: list[dict[str, int]] = []
    load = Load(
        server.url + "/v2/token?" + urlencode({"service": SERVICE, "scope": SCOPE}),
        headers=(basic(USER, PASSWORD),),
    )
    (found,) = pressure.interleaved(
        [load], lambda: pressure.slow_clients(server, seen, tls_ca=str(pki.ca_file))
    )
    return found


def _ratio_status(ratio: float, failures: int) -> str:
    return "met" if ratio <= 2.0 and failures == 0 else "MISSED"


def _report(bench: Bench, figures: dict[str, ModelFigures]) -> None:
    report = bench.report
    for model, found in figures.items():
        health, token = found.rates["healthz"], found.rates["token"]
        report.add(
            Row(
                "11",
                f"{model}: /healthz; warm token",
                f"{health.rates()}; {token.rates()}",
                ratio=f"token {token.new_connection.rate / health.new_connection.rate:.2f}x / "
                f"{token.keepalive.rate / health.keepalive.rate:.2f}x /healthz",
                target="report",
            )
        )
        if found.slow is not None:
            report.add(
                Row(
                    "11",
                    f"{model}: warm token, {pressure.IDLE:,} idle + {pressure.SLOW} slow clients",
                    found.slow.text(),
                    ratio=f"{found.slow.ratio:.2f}x quiet p99",
                    target="<= 2x, no failure",
                    status=_ratio_status(found.slow.ratio, found.slow.failures),
                )
            )
        for name, hung in found.hung.items():
            report.add(
                Row(
                    "11",
                    f"{model}: {name} token while {pressure.HUNG_LOGINS} directory logins hang",
                    hung.text(),
                    ratio=f"{hung.ratio:.2f}x quiet p99",
                    target="<= 2x, no failure",
                    status=_ratio_status(hung.ratio, hung.failures),
                )
            )
        if found.storm is not None:
            report.add(
                Row(
                    "11",
                    f"{model}: storm of 500 clients at once",
                    found.storm.text(),
                    target="all answered",
                    status="met" if found.storm.failed == 0 else "MISSED",
                )
            )
    report.sections.append(("Serving model", _section(figures)))


def _fastest_text(figures: dict[str, ModelFigures]) -> str:
    """Which model answered the warm token fastest in this run, each way."""
    parts = []
    for label, kept_alive in (("with a new connection per request", False), ("kept alive", True)):
        rates = {
            model: (pair.keepalive if kept_alive else pair.new_connection).rate
            for model, found in figures.items()
            if (pair := found.rates.get("token")) is not None
        }
        if rates:
            fastest = max(rates, key=lambda model: rates[model])
            parts.append(f"{label} by {fastest} ({fmt_rate(rates[fastest])})")
    if not parts:
        return ""
    return "In this run the warm token was answered fastest " + ", and ".join(parts) + "."


def _section(figures: dict[str, ModelFigures]) -> str:
    lines = [
        "The same Dockit under four gunicorn worker classes (`python3 -m bench --only 11`, "
        "2 workers each, gthread with 16 threads a worker); rates in interleaved rounds, "
        "the pressure scenarios one model after the other, each quiet and pressed in "
        "interleaved rounds (p99 of wrk -t1 -c2, medians over rounds).",
        "",
        "| model | /healthz new conn / kept alive | warm token new conn / kept alive "
        "| slow clients: token p99 | hung directory: local / refresh / anonymous p99 "
        "| storm of 500 | workers killed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for model, found in figures.items():
        health, token = found.rates["healthz"], found.rates["token"]
        slow = found.slow.text() if found.slow else ""
        hung = "; ".join(f.text() for f in found.hung.values())
        storm = found.storm.text() if found.storm else ""
        lines.append(
            f"| {model} | {fmt_rate(health.new_connection.rate)} / "
            f"{fmt_rate(health.keepalive.rate)} | {fmt_rate(token.new_connection.rate)} / "
            f"{fmt_rate(token.keepalive.rate)} | {slow} | {hung} | {storm} | {found.killed} |"
        )
    lines.append("")
    for model, found in figures.items():
        checks = [found.slow, *found.hung.values()]
        met = sum(1 for f in checks if f is not None and f.ratio <= 2.0 and f.failures == 0)
        storm_ok = found.storm is not None and found.storm.failed == 0
        lines.append(
            f"- {model}: {met} of {len(checks)} pressure targets met (p99 at most 2x quiet, "
            f"nothing failed); storm {'all answered' if storm_ok else 'NOT all answered'}; "
            f"{found.killed} worker(s) killed."
        )
    lines += [
        "",
        "Why Dockit's worker: sync serves one connection at a time per worker, so idle or "
        "slow connections, or logins waiting on a hung directory, stall every client; "
        "gthread gives a thread to every connection with a byte to read until its request "
        "is in, and to every request until it is answered, so 100 slow clients or 50 hung "
        "logins use up its threads; gevent serves each connection in a greenlet, but "
        "gunicorn's gevent worker does the TLS handshake and reads bodies with no time "
        "limit. Dockit's worker is gevent with a read deadline on every connection "
        "(dockit_server/worker.py). "
        "gunicorn's own gevent worker bounds only the wait for a request's head (Dockit gives "
        "it server.read_timeout as its keepalive): under it, tests/resilience/test_serving.py "
        "hangs over HTTPS (idle TLS connections are held for ever) and a trickled body gets "
        "no answer. The price of greenlets: a storm of new connections is accepted one at a "
        "time per worker turn (gunicorn's max_accept = 1 for gevent), so its p99 is higher "
        "than sync's, whose workers share the kernel's accept queue. " + _fastest_text(figures),
        "",
    ]
    for model, found in figures.items():
        lines.append(
            f"- {model}: the attacker saw {json.dumps(found.attacker, sort_keys=True)}; "
            f"directory logins during the hang answered {json.dumps(found.hung_statuses)} "
            "(status: count; 0 is no answer)."
        )
    return "\n".join(lines)
