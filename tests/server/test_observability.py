"""Request ids, JSON access logs and /metrics through the real Falcon app."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import falcon.testing
import pytest

from dockit_server.app import create_app
from dockit_server.components import Components
from dockit_server.metrics import Metrics
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.ring import ensure_active_key
from tests.support.promtext import sample_value

from .conftest import USER_AUTH, USER_PASSWORD


@pytest.fixture
def observed(components: Components, backend: MemoryBackend) -> Components:
    ensure_active_key(backend, now=datetime.now(UTC))
    return Components(
        tokens=components.tokens,
        admin=components.admin,
        health=components.health,
        key_manager=components.key_manager,
        credentials=components.credentials,
        metrics=Metrics(components.tokens.keys, services=("registry.test",)),
        json_logs=True,
    )


@pytest.fixture
def client(observed: Components) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(observed))


def test_request_id_is_echoed_or_generated(client: falcon.testing.TestClient) -> None:
    sent = client.simulate_get("/healthz", headers={"X-Request-Id": "abc-123.x:y_z"})
    assert sent.headers["X-Request-Id"] == "abc-123.x:y_z"
    fresh = client.simulate_get("/healthz")
    other = client.simulate_get("/healthz")
    assert len(fresh.headers["X-Request-Id"]) == 32
    assert fresh.headers["X-Request-Id"] != other.headers["X-Request-Id"]


@pytest.mark.parametrize("bad", ["a b", "x" * 129, "id\r\nSet-Cookie: x=1", "ümlaut", ""])
def test_odd_request_ids_are_replaced_not_reflected(
    client: falcon.testing.TestClient, bad: str
) -> None:
    result = client.simulate_get("/healthz", headers={"X-Request-Id": bad})
    echoed = result.headers["X-Request-Id"]
    assert echoed != bad
    assert len(echoed) == 32
    assert "Set-Cookie" not in result.headers


def test_json_access_log_has_no_secrets(
    client: falcon.testing.TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dockit.access")
    client.simulate_get(
        "/v2/token",
        query_string="service=registry.test&scope=repository:alice/x:pull&account=alice",
        headers={**USER_AUTH, "X-Request-Id": "req-1"},
    )
    client.simulate_get(
        "/v2/token", query_string="service=registry.test", headers={"Authorization": "Basic eDp5"}
    )
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dockit.access"]
    assert len(lines) == 2
    first, second = lines
    assert first["request_id"] == "req-1"
    assert first["method"] == "GET"
    assert first["path"] == "/v2/token"
    assert first["status"] == 200
    assert first["user"] == "alice"
    assert first["duration_ms"] >= 0
    assert second["status"] == 401
    assert second["user"] is None
    text = caplog.text
    assert USER_PASSWORD not in text
    assert "Basic" not in text
    assert "scope=" not in text


def test_metrics_count_token_outcomes(client: falcon.testing.TestClient) -> None:
    for _ in range(3):
        client.simulate_get("/v2/token", query_string="service=registry.test", headers=USER_AUTH)
    client.simulate_get(
        "/v2/token", query_string="service=registry.test", headers={"Authorization": "Basic eDp5"}
    )
    client.simulate_get(
        "/v2/token", query_string="service=registry.test&scope=bad", headers=USER_AUTH
    )
    scrape = client.simulate_get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    labels = {"service": "registry.test"}
    assert sample_value(text, "dockit_token_requests_total", outcome="issued", **labels) == 3
    assert sample_value(text, "dockit_token_requests_total", outcome="unauthorized", **labels) == 1
    assert sample_value(text, "dockit_token_requests_total", outcome="bad_request", **labels) == 1
    assert sample_value(text, "dockit_token_request_seconds_count") == 5
    days = sample_value(text, "dockit_certificate_expiry_days")
    assert days is not None
    assert 364 < days <= 365


def test_service_labels_are_the_configured_services(observed: Components) -> None:
    metrics = observed.metrics
    assert metrics is not None
    labels = {metrics.service_label(f"svc-{i}") for i in range(50)}
    assert labels == {"other"}
    assert metrics.service_label("registry.test") == "registry.test"
    assert metrics.service_label(None) == "none"
    unrestricted = Metrics(observed.tokens.keys)  # token.services empty: any service
    assert {unrestricted.service_label(f"svc-{i}") for i in range(50)} == {"any"}


def test_no_metrics_route_when_off(components: Components) -> None:
    client = falcon.testing.TestClient(create_app(components))
    assert client.simulate_get("/metrics").status_code == 404
