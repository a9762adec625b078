"""The request context middleware's remembered parts: generated request ids
(new_request_id: 128 random bits as 32 hex digits, read from the kernel for many ids at a
time, never handed out twice, also not by a worker forked after the parent had read a
batch), and the status codes behind the token requests' outcome label."""

from __future__ import annotations

import os
import re
from http import HTTPStatus

import falcon
from falcon import testing

from dockit_server.metrics import Metrics
from dockit_server.middleware import RequestContext, new_request_id
from tests.support.promtext import sample_value

_HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_ids_are_32_hex_digits_and_never_repeat() -> None:
    ids = [new_request_id() for _ in range(1000)]  # several batches
    assert all(_HEX_ID.fullmatch(found) for found in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_worker_does_not_hand_out_the_parents_ids() -> None:
    new_request_id()  # a batch read, most of it not handed out yet
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            os.write(writing, "".join(new_request_id() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    with os.fdopen(reading) as pipe:
        text = pipe.read()
    childs = {text[start : start + 32] for start in range(0, len(text), 32)}
    assert len(childs) == 3
    parents = {new_request_id() for _ in range(200)}
    assert not childs & parents


def test_every_status_is_counted_under_its_own_outcome() -> None:
    """The outcome of each answer's status, however falcon holds it, also after the same
    statuses were seen before (their codes are remembered)."""
    metrics = Metrics(services=["registry"])
    context = RequestContext(metrics=metrics)
    statuses: list[str | int | HTTPStatus] = [
        "200 OK",
        401,
        "503 Service Unavailable",
        HTTPStatus.BAD_REQUEST,
        418,
        "429 Too Many",
    ]
    for status in statuses * 2:
        req = testing.create_req(path="/v2/token", query_string="service=registry")
        resp = falcon.Response()
        context.process_request(req, resp)
        resp.status = status
        context.process_response(req, resp, None, True)
    text = metrics.exposition().decode()
    for outcome in (
        "issued",
        "unauthorized",
        "unavailable",
        "bad_request",
        "status_418",
        "throttled",
    ):
        found = sample_value(
            text, "dockit_token_requests_total", outcome=outcome, service="registry"
        )
        assert found == 2, outcome
