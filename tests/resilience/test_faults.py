"""Faults: PostgreSQL restarted and slapd stopped and started in the middle of a bounded
load, and a database that is unreachable when ``dockit api-server`` starts.

While a part is down every request that needs it answers 503 (never 401 for good
credentials, never a token with other grants); afterwards everything succeeds again without
restarting Dockit (same PID).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.resilience.conftest import granted
from tests.resilience.load import Call, LoadResult, run_load
from tests.support.dockit import DockitServer, base_env, run_dockit
from tests.support.postgres import TEST_PASSWORD, PostgresServer
from tests.support.procs import free_port
from tests.support.slapd import GROUPS_DN, PEOPLE_DN, SERVICE_DN, SERVICE_PASSWORD, Slapd

SERVICE = "registry.test"
SETTLE_SECONDS = 3.0  # after the part is back, everything must succeed from then on
#: A request that arrives just after the part went down may still join a check of the same
#: credentials begun before (libdockit.single_flight) and share the answer the part gave
#: then; under load a worker may read that answer tens of milliseconds late.
IN_FLIGHT_GRACE_SECONDS = 0.3


@dataclass
class Outage:
    """When the part went down and came back, in seconds since the load began."""

    down_from: float = 0.0  # the stop command had finished
    down_until: float = 0.0  # the start command was about to run
    back_at: float = 0.0  # the start command had finished


def load_with_outage(
    calls: Sequence[Call],
    *,
    stop: Callable[[], object],
    start: Callable[[], object],
    before: float = 2.5,
    down: float = 3.0,
    after: float = 5.0,
) -> tuple[LoadResult, Outage]:
    """Run the load; ``before`` seconds in, stop the part, ``down`` seconds later start it;
    the load goes on ``after`` seconds more."""
    outage = Outage()
    began = time.monotonic()
    holder: list[LoadResult] = []
    total = before + down + after + 30.0  # ends early, once the part is back for ``after``
    finished = threading.Event()
    thread = threading.Thread(
        target=lambda: holder.append(run_load(calls, seconds=total, stop=finished, began=began)),
        daemon=True,
    )
    thread.start()
    try:
        time.sleep(before)
        stop()
        outage.down_from = time.monotonic() - began
        time.sleep(down)
        outage.down_until = time.monotonic() - began
        start()
        outage.back_at = time.monotonic() - began
        time.sleep(after)
    finally:
        finished.set()
        thread.join(timeout=60)
    return holder[0], outage


def check_outage(result: LoadResult, outage: Outage, *, healthy: set[int]) -> None:
    """503 only while down; ``healthy`` statuses only once settled; nothing else ever."""
    during = result.between(outage.down_from + IN_FLIGHT_GRACE_SECONDS, outage.down_until)
    assert len(during) >= 5, f"too few requests during the outage: {result.summary()}"
    assert {o.status for o in during} == {503}, [o for o in during if o.status != 503][:5]
    allowed = healthy | {503}
    odd = [o for o in result.outcomes if o.status not in allowed]
    assert odd == [], odd[:5]
    settled = result.between(outage.back_at + SETTLE_SECONDS, float("inf"))
    assert len(settled) >= 5, result.summary()
    assert {o.status for o in settled} <= healthy, [o for o in settled if o.status == 503][:5]


def token_call(
    server: DockitServer,
    creds_for: Callable[[int], tuple[str, str]],
    scope_for: Callable[[int], tuple[str, dict[str, list[str]]]],
    wrong: list[str],
) -> Call:
    """A token request whose 200 answer must carry exactly the expected access."""

    def call(index: int, iteration: int) -> tuple[str, int]:
        scope, expected = scope_for(index)
        answer = server.token(SERVICE, [scope], creds_for(index))
        if answer.status == 200 and {k: v for k, v in granted(answer.token).items() if v} != (
            expected
        ):
            wrong.append(f"{scope}: {granted(answer.token)}")
        if answer.status == 503 and answer.error_codes() != ["UNAVAILABLE"]:
            wrong.append(f"503 with {answer.json!r}")
        return "token", answer.status

    return call


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_restart_in_the_middle_of_a_load(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.url_for(postgres_server.create_database())
    server = DockitServer(tmp_path / "dockit", workers=2, extra_env={"DOCKIT_DATABASE_URL": url})
    wrong: list[str] = []
    with server:
        for i in range(3):
            server.create_user(f"u{i}", f"u{i}-pw-long")
            server.grant(f"user:u{i}", f"repository:u{i}/*:pull")
        pid = server.pid

        def scope_for(index: int) -> tuple[str, dict[str, list[str]]]:
            return f"repository:u{index}/app:pull,push", {f"repository:u{index}/app": ["pull"]}

        tokens = token_call(server, lambda i: (f"u{i}", f"u{i}-pw-long"), scope_for, wrong)

        def writer(index: int, iteration: int) -> tuple[str, int]:
            body = {"username": f"pgw-{iteration}", "password": "pgw-pw-123"}
            response = server.admin("POST", "/users", body)
            if response.status == 503 and TEST_PASSWORD in response.body.decode():
                wrong.append("the database password in a 503 body")
            return "write", response.status

        try:
            result, outage = load_with_outage(
                [tokens, tokens, tokens, writer],
                stop=postgres_server.stop,
                start=postgres_server.start,
            )
        finally:
            if not postgres_server.running():
                postgres_server.start()
        print(f"\npostgres restart: {result.summary()}; outage {outage}")
        print(f"  during the outage: {dict(result.statuses_between(outage))}")
        check_outage(result, outage, healthy={200, 201})
        assert wrong == [], wrong[:5]
        assert server.pid == pid
        assert server.token(SERVICE, [], ("u0", "u0-pw-long")).status == 200
    log = server.all_logs()
    assert TEST_PASSWORD not in log
    assert "Traceback" not in log


def _unreachable_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    env = base_env(tmp_path)
    env.update(
        {
            "DOCKIT_DATABASE_URL": url,
            "DOCKIT_SERVICES": SERVICE,
            "DOCKIT_ADMIN_PASSWORD": "admin-pw",
            "DOCKIT_BIND": f"127.0.0.1:{free_port()}",
        }
    )
    env.update(extra)
    return env


@pytest.mark.postgres
def test_unreachable_database_at_start_exits_with_a_clear_message(tmp_path: Path) -> None:
    url = f"postgresql://dockit:{TEST_PASSWORD}@127.0.0.1:{free_port()}/dockit"
    started = time.monotonic()
    result = run_dockit(["api-server"], env=_unreachable_env(tmp_path, url), cwd=tmp_path)
    fast = time.monotonic() - started
    assert result.returncode != 0
    assert fast < 10, fast
    assert "database.url" in result.stderr, result.stderr
    assert "database.wait_seconds" in result.stderr, result.stderr
    assert TEST_PASSWORD not in result.stderr + result.stdout

    # Told to wait 2 s for a database that never comes: it tries, then gives up the same way.
    started = time.monotonic()
    env = _unreachable_env(tmp_path, url, DOCKIT_DATABASE_WAIT_SECONDS="2")
    result = run_dockit(["api-server"], env=env, cwd=tmp_path)
    waited = time.monotonic() - started
    assert result.returncode != 0
    assert 1.0 <= waited < 15, waited
    assert "waiting for the database" in result.stderr, result.stderr
    assert "database.url" in result.stderr
    assert TEST_PASSWORD not in result.stderr + result.stdout


@pytest.mark.postgres
def test_told_to_wait_it_starts_once_the_database_comes_up(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.url_for(postgres_server.create_database())
    server = DockitServer(
        tmp_path / "dockit",
        extra_env={"DOCKIT_DATABASE_URL": url, "DOCKIT_DATABASE_WAIT_SECONDS": "30"},
    )
    postgres_server.stop()
    timer = threading.Timer(2.0, postgres_server.start)
    timer.start()
    try:
        with server:
            assert server.token(SERVICE, [], server.admin_creds).status == 200
    finally:
        timer.join()
        if not postgres_server.running():
            postgres_server.start()
    assert "waiting for the database" in server.stderr(1)
    assert TEST_PASSWORD not in server.all_logs()


# -- LDAP ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with Slapd(tmp_path_factory.mktemp("slapd")) as server:
        yield server


def _ldap_toml(slapd: Slapd, workdir: Path) -> Path:
    config = workdir / "dockit.toml"
    config.write_text(
        f"""
[ldap]
urls = ["{slapd.ldaps_url}"]
ca_file = "{slapd.pki.ca_file}"
bind_dn = "{SERVICE_DN}"
bind_password = "{SERVICE_PASSWORD}"
group_cache_seconds = 1
password_cache_seconds = 0  # every login asks slapd, so the outage shows at once
connect_timeout = 1
receive_timeout = 3

[ldap.user_search]
base_dn = "{PEOPLE_DN}"
filter = "(objectClass=inetOrgPerson)"

[ldap.group_search]
base_dn = "{GROUPS_DN}"
user_matchers = [
  {{ user_attribute = "DN", group_attribute = "member" }},
  {{ user_attribute = "uid", group_attribute = "memberUid" }},
]
nested = true
"""
    )
    return config


@pytest.mark.ldap
def test_ldap_stopped_and_started_in_the_middle_of_directory_logins(
    tmp_path: Path, slapd: Slapd
) -> None:
    workdir = tmp_path / "dockit"
    workdir.mkdir()
    server = DockitServer(workdir, extra_env={"DOCKIT_CONFIG": str(_ldap_toml(slapd, workdir))})
    # alice is in developers; dave through frontend (nested); bob in ops (memberUid).
    people = {"alice": "developers", "dave": "developers", "bob": "ops"}
    users = list(people)
    wrong: list[str] = []
    with server:
        server.grant("group:developers", "repository:dev/*:pull,push")
        server.grant("group:ops", "repository:ops/*:pull")
        pid = server.pid

        def scope_for(index: int) -> tuple[str, dict[str, list[str]]]:
            group = people[users[index % 3]]
            if group == "developers":
                return "repository:dev/app:pull,push", {"repository:dev/app": ["pull", "push"]}
            return "repository:ops/app:pull,push", {"repository:ops/app": ["pull"]}

        tokens = token_call(
            server, lambda i: (users[i % 3], f"{users[i % 3]}-pw"), scope_for, wrong
        )
        try:
            result, outage = load_with_outage([tokens] * 6, stop=slapd.stop, start=slapd.start)
        finally:
            if not slapd.running():
                slapd.start()
        print(f"\nldap stop/start: {result.summary()}; outage {outage}")
        print(f"  during the outage: {dict(result.statuses_between(outage))}")
        check_outage(result, outage, healthy={200})
        assert wrong == [], wrong[:5]
        assert server.pid == pid
    log = server.all_logs()
    assert "Traceback" not in log
    assert SERVICE_PASSWORD not in log
    assert "alice-pw" not in log
