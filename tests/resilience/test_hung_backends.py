"""Backends that accept connections and never answer: a real slapd and a real PostgreSQL
paused with SIGSTOP (always resumed with SIGCONT, however the test ends).

* Directory logins against a hung slapd (two URLs, a pooled connection that hangs first)
  answer 503 with a distribution-style error, never 500, and no worker is killed; while 50
  of them hang, local-user, refresh-token and anonymous tokens are answered; the first
  login after slapd resumes gets its token.
* Token requests against a hung PostgreSQL answer 503 (the connection is given up at
  ``database.timeout``), the worker keeps answering what needs no database, and the first
  request after PostgreSQL resumes gets its token.

Pass/fail on behaviour only (statuses, order of answers, worker PIDs); timings are bench's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.support.dockit import DockitServer, Response, basic_auth, http_request, moby_refresh
from tests.support.postgres import PostgresServer, postgres_cluster
from tests.support.procs import children, paused
from tests.support.slapd import GROUPS_DN, PEOPLE_DN, SERVICE_DN, SERVICE_PASSWORD, Slapd

SERVICE = "registry.test"
HUNG_LOGINS = 50
LOCAL = ("robot", "robot-pw-123")
DIRECTORY_USER = ("alice", "alice-pw")


def _ldap_toml(slapd: Slapd, workdir: Path) -> Path:
    """Two URLs (both the paused slapd), no caches, a per-server receive timeout far above
    the call's deadline: only ``ldap.timeout`` can end a hanging login in time."""
    config = workdir / "dockit.toml"
    config.write_text(
        f"""
[ldap]
urls = ["{slapd.url}", "{slapd.url}"]
bind_dn = "{SERVICE_DN}"
bind_password = "{SERVICE_PASSWORD}"
group_cache_seconds = 0
password_cache_seconds = 0
connect_timeout = 5
receive_timeout = 25
timeout = 2
max_concurrent = 4

[ldap.user_search]
base_dn = "{PEOPLE_DN}"
filter = "(objectClass=inetOrgPerson)"

[ldap.group_search]
base_dn = "{GROUPS_DN}"
"""
    )
    return config


def _token_url(server: DockitServer, scope: str, **extra: str) -> str:
    return server.url + "/v2/token?" + urlencode({"service": SERVICE, "scope": scope, **extra})


def _get_token(server: DockitServer, creds: tuple[str, str] | None, scope: str) -> Response:
    headers = {"Authorization": basic_auth(creds)} if creds is not None else {}
    return http_request(_token_url(server, scope), headers=headers, timeout=60)


def _check_unavailable(response: Response) -> None:
    assert response.status == 503, response
    assert response.error_codes() == ["UNAVAILABLE"], response
    assert response.json()["errors"][0]["message"], response


def _check_nothing_killed(server: DockitServer, workers: set[int]) -> None:
    assert server.pid is not None
    assert children(server.pid) == workers
    log = server.log()
    assert "WORKER TIMEOUT" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def _in_threads(
    count: int, call: Callable[[], Response]
) -> tuple[list[threading.Thread], list[tuple[float, Response]]]:
    """``count`` threads each making ``call`` once; answers as (finished at, response)."""
    answers: list[tuple[float, Response]] = []

    def run() -> None:
        response = call()
        answers.append((time.monotonic(), response))

    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, answers


@pytest.fixture
def slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


@pytest.mark.ldap
def test_hung_directory_logins_are_503_and_do_not_hold_other_tokens(
    tmp_path: Path, slapd: Slapd
) -> None:
    server = DockitServer(tmp_path, extra_env={"DOCKIT_CONFIG": str(_ldap_toml(slapd, tmp_path))})
    with server:
        server.create_user(*LOCAL)
        server.grant("user:robot", "repository:robot/*:pull")
        server.grant("group:developers", "repository:dev/*:pull")
        server.grant("anonymous", "repository:public/*:pull")
        offline = _get_token(server, LOCAL, "repository:robot/app:pull")
        refresh_answer = http_request(
            _token_url(server, "", offline_token="true", client_id="test"),
            headers={"Authorization": basic_auth(LOCAL)},
        )
        refresh_token = refresh_answer.json()["refresh_token"]
        assert offline.status == 200
        # A directory login before the hang leaves a pooled connection to hang first.
        assert _get_token(server, DIRECTORY_USER, "repository:dev/app:pull").status == 200
        assert server.pid is not None
        assert slapd.pid is not None
        workers = children(server.pid)

        others: list[tuple[float, Response]] = []
        with paused([slapd.pid]):
            threads, hung = _in_threads(
                HUNG_LOGINS,
                lambda: _get_token(server, DIRECTORY_USER, "repository:dev/app:pull"),
            )
            time.sleep(0.2)  # let them reach the directory
            calls: list[Callable[[], Response]] = [
                lambda: _get_token(server, LOCAL, "repository:robot/app:pull"),
                lambda: moby_refresh(server, refresh_token, "repository:robot/app:pull", SERVICE),
                lambda: _get_token(server, None, "repository:public/app:pull"),
            ]
            for _ in range(3):
                for call in calls:
                    response = call()
                    others.append((time.monotonic(), response))
            for thread in threads:
                thread.join(timeout=120)
        # The first login after slapd is back.
        resumed = _get_token(server, DIRECTORY_USER, "repository:dev/app:pull")

        assert len(hung) == HUNG_LOGINS
        for _, response in hung:
            _check_unavailable(response)
        assert [response.status for _, response in others] == [200] * len(others)
        # Answered while the directory logins were hanging, before the first of them ended.
        assert max(at for at, _ in others) < min(at for at, _ in hung)
        assert resumed.status == 200, resumed
        _check_nothing_killed(server, workers)


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    with postgres_cluster() as cluster:
        yield cluster


@pytest.mark.postgres
def test_a_hung_database_is_503_and_the_next_request_after_it_works(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    url = own_postgres.url_for(own_postgres.create_database())
    env = {"DOCKIT_DATABASE_URL": url, "DOCKIT_DATABASE_TIMEOUT": "1"}
    with DockitServer(tmp_path, extra_env=env) as server:
        server.create_user(*LOCAL)
        server.grant("user:robot", "repository:robot/*:pull")
        assert _get_token(server, LOCAL, "repository:robot/app:pull").status == 200
        assert server.pid is not None
        workers = children(server.pid)
        with paused(own_postgres.pids()):
            threads, hung = _in_threads(
                10, lambda: _get_token(server, LOCAL, "repository:robot/app:pull")
            )
            health = [server.get("/healthz", timeout=30).status for _ in range(5)]
            for thread in threads:
                thread.join(timeout=120)
            single = _get_token(server, LOCAL, "repository:robot/app:pull")
        resumed = _get_token(server, LOCAL, "repository:robot/app:pull")

        assert health == [200] * 5  # the workers answer what needs no database
        assert len(hung) == 10
        for _, response in [*hung, (0.0, single)]:
            _check_unavailable(response)
            assert "database.timeout" in response.json()["errors"][0]["message"]
        assert resumed.status == 200, resumed
        _check_nothing_killed(server, workers)
