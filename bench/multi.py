"""Scenario 9: two Dockit instances on one PostgreSQL against one.

A throw-away PostgreSQL 15 cluster (tests/support/postgres.py) with one database; instance A
starts first (migrates, makes the key and the admin), instance B second on the same URL.
The bench user is created through A, and B must issue it a token (the shared store works).
Then the warm token rate of A alone (B idle), and of A and B at once (two wrk runs in
parallel, one per instance, summed), in interleaved rounds. A third instance C on the same
database has as many workers as A and B together and gets the same two wrk runs: on a
machine too small for two instances, "A and B" against "C" tells what sharing the database
costs apart from what crowding the cores costs.
"""

from __future__ import annotations

import os

import pytest

from tests.support.postgres import PostgresServer

from .context import Bench, Measured, Probe
from .http_scenarios import prepare, warm_token_load
from .procs import started
from .results import NOT_AVAILABLE, Row, fmt_rate


def run(bench: Bench) -> None:
    report = bench.report
    options = bench.options
    try:
        pg = PostgresServer.create()
    except pytest.skip.Exception as exc:  # tests.support's way of saying "not installed"
        report.add(
            Row("9", "two instances on PostgreSQL", f"not available: {exc}", status=NOT_AVAILABLE)
        )
        return
    try:
        pg.start()
        url = pg.url_for(pg.create_database("dockit_bench"))
        env = {"DOCKIT_DATABASE_URL": url}
        workers = options.workers
        with (
            started(bench.directory("pg-a"), workers=workers, env=env) as first,
            started(bench.directory("pg-b"), workers=workers, env=env) as second,
            started(bench.directory("pg-c"), workers=2 * workers, env=env) as wide,
        ):
            prepare(first)
            load_a, load_b = warm_token_load(first), warm_token_load(second)  # B sees A's user
            load_c = warm_token_load(wide)
            one_pair, both_pair, doubled_pair = bench.measure_both(
                [
                    Probe("9 one instance", (first,), (load_a,)),
                    Probe("9 two instances", (first, second), (load_a, load_b)),
                    Probe("9 one instance, twice the workers", (wide,), (load_c, load_c)),
                ]
            )
    finally:
        pg.destroy()  # pg_ctl stop -m fast, then its directory is removed
    one, both, doubled = (
        one_pair.new_connection,
        both_pair.new_connection,
        doubled_pair.new_connection,
    )
    kept = {
        "one": one_pair.keepalive.rate,
        "two": both_pair.keepalive.rate,
        "wide": doubled_pair.keepalive.rate,
    }
    combined = both.rate
    split = " + ".join(f"{rate:,.0f}" for rate in both.rates)
    busy = {name: _cores(m) for name, m in (("one", one), ("two", both), ("wide", doubled))}
    report.add(
        Row(
            "9",
            "PostgreSQL: one instance, warm token",
            f"{fmt_rate(one.rate)} ({fmt_rate(kept['one'])} kept alive); "
            f"Dockit busy {busy['one']} cores",
            target="reference",
            cpu=one.cpu_cell(),
        )
    )
    report.add(
        Row(
            "9",
            "PostgreSQL: two instances at once, combined",
            f"{fmt_rate(combined)} ({split}; {fmt_rate(kept['two'])} kept alive); "
            f"Dockit busy {busy['two']} cores",
            ratio=f"{combined / one.rate:.2f}x one instance "
            f"({kept['two'] / kept['one']:.2f}x kept alive)",
            target="report",
            cpu=both.cpu_cell(),
        )
    )
    report.add(
        Row(
            "9",
            f"PostgreSQL: one instance with {2 * workers} workers, the same two wrk runs",
            f"{fmt_rate(doubled.rate)} ({fmt_rate(kept['wide'])} kept alive); "
            f"Dockit busy {busy['wide']} cores",
            ratio=f"two instances = {combined / doubled.rate:.2f}x this "
            f"({kept['two'] / kept['wide']:.2f}x kept alive)",
            target="report",
            cpu=doubled.cpu_cell(),
        )
    )
    cores = os.cpu_count() or 1
    report.note(
        f"Two instances: this machine has {cores} cores for {2 * workers} gunicorn workers, "
        "PostgreSQL and two wrk processes, and one instance alone already keeps the cores "
        f"about busy (Dockit {busy['one']} cores plus PostgreSQL and wrk). A second instance "
        "on the same cores can only share them, so two against one measures crowding, not "
        "scale-out (which needs each instance on its own cores or machine). The fair "
        f"comparison here is one instance with {2 * workers} workers under the same two wrk "
        f"runs: two instances reach {combined / doubled.rate:.2f}x its rate, which is what "
        "sharing the database between instances costs on its own. 'Dockit busy' is the CPU "
        "time of the instances' gunicorn processes per second (PostgreSQL's and wrk's not "
        "included), with a new connection per request; the kept-alive figures were measured "
        "in the same rounds."
    )


def _cores(measured: Measured) -> str:
    if measured.server_cpu_us is None:
        return "?"
    return f"{measured.server_cpu_us * measured.rate / 1e6:.2f}"
