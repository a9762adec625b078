"""Metric labels take only configured services, on a real ``dockit api-server``: refused
service names are counted as ``other`` and cannot crowd a real service out of its label."""

from __future__ import annotations

from tests.support.dockit import DockitServer
from tests.support.promtext import sample_value

from .corpus import SERVICE


def test_refused_services_never_become_labels(server: DockitServer) -> None:
    for n in range(40):
        assert server.token(f"bogus-{n}.example", []).status == 400
    for _ in range(3):
        assert server.token(SERVICE, []).status == 200
    text = server.get("/metrics").body.decode()
    assert "bogus-" not in text
    assert sample_value(text, "dockit_token_requests_total", outcome="issued", service=SERVICE)
    refused = sample_value(
        text, "dockit_token_requests_total", outcome="bad_request", service="other"
    )
    assert refused is not None
    assert refused >= 40
