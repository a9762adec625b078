"""Failed-login limits on the real server: three gunicorn workers share one set of counters
through the store, behind a trusted proxy (loopback) that forwards client addresses."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from tests.support.dockit import Creds, DockitServer, Response

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
        for _ in range(MAX_FAILURES):
            assert token(server, ("carol", "wrong"), attacker).status == 401

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
