"""Metrics and JSON logs from a real `dockit api-server` with several gunicorn workers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dockit import DockitServer
from tests.support.promtext import sample_value

REQUESTS = 24
SERVICE = "registry.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    workdir: Path = tmp_path_factory.mktemp("observed")
    with DockitServer(workdir, workers=3, extra_env={"DOCKIT_JSON_LOGS": "true"}) as dockit:
        yield dockit


def test_metrics_sum_over_all_workers(server: DockitServer) -> None:
    server.create_user("metrics-user", "metrics-pw-1")
    for _ in range(REQUESTS):
        status, _, _ = server.token(
            SERVICE, ["repository:a/b:pull"], ("metrics-user", "metrics-pw-1")
        )
        assert status == 200
    for _ in range(3):
        status, _, _ = server.token(SERVICE, [], ("metrics-user", "wrong"))
        assert status == 401
    # Every scrape lands on some worker; each must report the sum over all of them.
    for _ in range(6):
        response = server.get("/metrics")
        assert response.status == 200
        text = response.body.decode()
        issued = sample_value(
            text, "dockit_token_requests_total", outcome="issued", service=SERVICE
        )
        refused = sample_value(
            text, "dockit_token_requests_total", outcome="unauthorized", service=SERVICE
        )
        assert issued == REQUESTS
        assert refused == 3
        assert sample_value(text, "dockit_token_request_seconds_count") == REQUESTS + 3
        grants = sample_value(
            text, "dockit_backend_seconds_count", backend="sql", operation="grants"
        )
        logins = sample_value(
            text, "dockit_backend_seconds_count", backend="local", operation="remembered"
        )
        checks = sample_value(
            text, "dockit_backend_seconds_count", backend="local", operation="authenticate"
        )
        assert grants == REQUESTS  # one grant lookup per token with a scope
        assert logins == REQUESTS + 3 + 1  # and the admin who created the user
        # The slow checks: the user's password once per worker (then remembered), the
        # admin's, and the wrong password once (sent again, it is refused unchecked).
        assert checks is not None
        assert 1 + 1 + 1 <= checks <= 3 + 1 + 1
        days = sample_value(text, "dockit_certificate_expiry_days")
        assert days is not None
        assert days > 300
    pids = {line for line in server.log().splitlines() if "Booting worker with pid" in line}
    assert len(pids) == 3


def test_audit_batches_report_their_backlog(server: DockitServer) -> None:
    """After the token requests above, every worker has written its batch (audit
    .flush_seconds is 1 s): nothing is left queued and nothing was dropped."""
    deadline = time.monotonic() + 10
    while True:
        text = server.get("/metrics").body.decode()
        backlog = sample_value(text, "dockit_audit_backlog_events")
        if backlog == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert backlog == 0
    assert sample_value(text, "dockit_audit_dropped_events_total") == 0
    tokens = server.audit_events("kind=token&limit=1000", at_least=REQUESTS + 3)
    assert len(tokens) >= REQUESTS + 3


def test_json_access_log_lines(server: DockitServer) -> None:
    status, _, headers = server.token(
        SERVICE, [], ("metrics-user", "metrics-pw-1"), params={}, method="GET"
    )
    assert status == 200
    request_id = headers["X-Request-Id"]
    lines = []
    for line in server.stderr().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    mine = [entry for entry in lines if entry["request_id"] == request_id]
    assert len(mine) == 1
    assert mine[0]["path"] == "/v2/token"
    assert mine[0]["status"] == 200
    assert mine[0]["user"] == "metrics-user"
    assert "metrics-pw-1" not in server.all_logs()
