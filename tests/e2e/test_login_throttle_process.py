"""Failed-login limits on the real server: gunicorn workers share one set of counters
through the store, behind a trusted proxy (loopback) that forwards client addresses;
concurrent guesses cannot pass one check, and a client's fallback does not count twice."""

from __future__ import annotations

import threading
import urllib.parse
from pathlib import Path

from tests.support.dockit import Creds, DockitServer, Response, post_token_form

SERVICE = "registry.test"
MAX_FAILURES = 3
ROUNDS = 12  # enough requests to land on every one of the three workers


def token(server: DockitServer, creds: Creds, client: str) -> Response:
    path = "/v2/token?" + urllib.parse.urlencode({"service": SERVICE})
    return server.request("GET", path, creds=creds, headers={"X-Forwarded-For": client})


def test_failed_logins_are_limited_across_workers(tmp_path: Path) -> None:
    env = {
        "DOCKIT_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
        "DOCKIT_LOGIN_FIRST_BACKOFF_SECONDS": "120",  # long enough for a slow machine
        "DOCKIT_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    with DockitServer(tmp_path, workers=3, extra_env=env) as server:
        server.create_user("carol", "carol-pw-1")
        server.create_user("dave", "dave-pw-1")
        attacker, elsewhere = "198.51.100.1", "198.51.100.2"
        # Every request is a new connection, so the failures go to whichever worker accepts.
        for n in range(MAX_FAILURES):
            assert token(server, ("carol", f"wrong-{n}"), attacker).status == 401

        # Every worker refuses carol now, even with her password, from any address ...
        for _ in range(ROUNDS):
            refused = token(server, ("carol", "carol-pw-1"), elsewhere)
            assert refused.status == 429, refused
            assert refused.error_codes() == ["TOOMANYREQUESTS"]
            assert 0 < int(refused.headers["Retry-After"]) <= 120
        # ... and the attacker's address, for every user.
        for _ in range(ROUNDS):
            assert token(server, ("dave", "dave-pw-1"), attacker).status == 429
        # Another user from another address is not affected.
        assert token(server, ("dave", "dave-pw-1"), elsewhere).status == 200

        events = server.audit_events("action=login.blocked", at_least=2)
        assert sorted(e["target"] for e in events) == ["client:198.51.100.1", "user:carol"]
        expected_refusals = 2 * ROUNDS + MAX_FAILURES
        refusals = server.audit_events("action=token.refuse&limit=100", at_least=expected_refusals)
        reasons = [e["detail"].get("reason") for e in refusals]
        assert reasons.count("TOOMANYREQUESTS") == 2 * ROUNDS
        assert reasons.count("UNAUTHORIZED") == MAX_FAILURES
        assert "carol-pw-1" not in server.all_logs()


GUESSES = 8


def test_concurrent_guesses_get_one_check_per_block(tmp_path: Path) -> None:
    """Eight guesses at once across four workers, with a limit of one failure: exactly one
    is checked (401), the others are refused before their hash (429), every round."""
    env = {
        "DOCKIT_LOGIN_MAX_FAILURES": "1",
        "DOCKIT_LOGIN_FIRST_BACKOFF_SECONDS": "300",
        "DOCKIT_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    with DockitServer(tmp_path, workers=4, extra_env=env) as server:
        for round_ in range(3):
            user = f"target-{round_}"
            server.create_user(user, f"{user}-password")
            statuses = guess_at_once(server, user, client=f"203.0.113.{round_ + 1}")
            assert sorted(statuses) == [401] + [429] * (GUESSES - 1), (round_, statuses)


def guess_at_once(server: DockitServer, user: str, *, client: str) -> list[int]:
    """GUESSES wrong passwords for ``user``, sent at the same moment; their statuses."""
    start = threading.Barrier(GUESSES)
    statuses: list[int] = []

    def guess(n: int) -> None:
        start.wait()
        statuses.append(token(server, (user, f"guess-{n}"), client).status)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def containerd_password_grant(server: DockitServer, creds: Creds) -> list[int]:
    """What containerd sends with a password: the OAuth2 POST, and on a 401 the same
    credentials again by GET (its fallback)."""
    username, password = creds
    fields = {
        "client_id": "containerd-client",
        "grant_type": "password",
        "password": password,
        "scope": "repository:carol/app:pull",
        "service": SERVICE,
        "username": username,
    }
    statuses = [post_token_form(server, fields).status]
    if statuses[0] == 401:
        path = "/v2/token?" + urllib.parse.urlencode({"scope": fields["scope"], "service": SERVICE})
        statuses.append(server.request("GET", path, creds=creds).status)
    return statuses


def test_one_wrong_password_counts_once_whatever_the_client_falls_back_to(
    tmp_path: Path,
) -> None:
    """containerd users get the five tries everyone gets, not three."""
    env = {"DOCKIT_LOGIN_MAX_FAILURES": "5", "DOCKIT_LOGIN_FIRST_BACKOFF_SECONDS": "300"}
    with DockitServer(tmp_path, workers=2, extra_env=env) as server:
        server.create_user("carol", "carol-pw-1")
        for n in range(4):
            assert containerd_password_grant(server, ("carol", f"typo-{n}")) == [401, 401]
        assert containerd_password_grant(server, ("carol", "carol-pw-1")) == [200]
        # Blocked after the fifth mistake, as documented: its own fallback meets the block.
        for n in range(4, 9):
            containerd_password_grant(server, ("carol", f"typo-{n}"))
        assert containerd_password_grant(server, ("carol", "carol-pw-1")) == [429]
        assert "typo" not in server.all_logs()
