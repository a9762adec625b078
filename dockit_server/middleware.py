"""Per-request context: a request id, an optional JSON access log line, token metrics.

The request id is taken from ``X-Request-Id`` when it is a plain token (letters, digits,
``._:-``, at most 128 characters), else generated, and always echoed back — so a header
holding CR/LF or anything else odd is never reflected. Log lines carry the method, the path
(never the query string), the status, the time taken, the client address and the user;
never a header, a body or a credential.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import falcon

from libdockit.random_batches import RandomBatches

from . import client_address
from .metrics import Metrics

REQUEST_ID_HEADER = "X-Request-Id"
#: Where the WSGI environment holds the header (what ``req.get_header`` looks up).
_REQUEST_ID_ENV = "HTTP_X_REQUEST_ID"
TOKEN_ROUTE = "/v2/token"  # noqa: S105 - a path, not a password
_MAX_STATUSES = 64
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_OUTCOMES = {
    200: "issued",
    400: "bad_request",
    401: "unauthorized",
    404: "unsupported",
    429: "throttled",
}

access_log = logging.getLogger("dockit.access")


#: 128 random bits as 32 hex digits (what ``uuid4().hex`` gave, without a UUID object),
#: drawn in batches (see :mod:`libdockit.random_batches`).
new_request_id = RandomBatches(bytes.hex)


class RequestContext:
    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        json_logs: bool = False,
        id_source: Callable[[], str] = new_request_id,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._metrics = metrics
        self._json_logs = json_logs
        self._id_source = id_source
        self._timer = timer
        self._codes: dict[object, int] = {}

    def _status_code(self, resp: falcon.Response) -> int:
        """``resp.status_code``, remembered for each status seen (falcon converts the status,
        ``"200 OK"`` or a number, on every read; the statuses an app answers are few)."""
        status = resp.status
        code = self._codes.get(status)
        if code is None:
            code = resp.status_code
            if len(self._codes) < _MAX_STATUSES:
                self._codes[status] = code
        return code

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        sent = req.env.get(_REQUEST_ID_ENV)
        request_id = sent if sent and _VALID_REQUEST_ID.fullmatch(sent) else self._id_source()
        req.context.request_id = request_id
        req.context.user = None
        req.context.started = self._timer()
        resp.set_header(REQUEST_ID_HEADER, request_id)

    def process_response(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        # getattr: what context.get() answers, without its call (it runs for every request).
        started = getattr(req.context, "started", None)
        elapsed = self._timer() - started if started is not None else 0.0
        code = self._status_code(resp)
        if self._metrics is not None and req.path == TOKEN_ROUTE:
            outcome = _OUTCOMES.get(code) or _other_outcome(code)
            self._metrics.token_request(outcome, _last_param(req, "service"), elapsed)
        if self._json_logs:
            access_log.info(
                json.dumps(
                    {
                        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "request_id": req.context.get("request_id"),
                        "method": req.method,
                        "path": req.path,
                        "status": code,
                        "duration_ms": round(elapsed * 1000, 3),
                        # The direct peer, or the client a trusted proxy forwarded for.
                        "client": client_address.of(req),
                        "user": req.context.get("user"),
                    },
                    ensure_ascii=False,
                )
            )


def _other_outcome(code: int) -> str:
    """The outcome label of a status not in _OUTCOMES (made only for such a status)."""
    return "unavailable" if code == 503 else f"status_{code}"


def _last_param(req: falcon.Request, name: str) -> str | None:
    """``req.get_param(name)``: the parameter's value, the last one if it repeats."""
    value = req.params.get(name)
    return value[-1] if isinstance(value, list) else value


class ConnectionHolder(Protocol):
    def hold_connection(self) -> None: ...

    def release_connection(self) -> None: ...


class StoreConnection:
    """One store connection for each whole request (see ``SqlBackend.hold_connection``): a
    token request reads the store three times, and a pool checkout costs as much as a read.
    A request that never touches the store takes no connection."""

    def __init__(self, store: ConnectionHolder) -> None:
        self._store = store

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._store.hold_connection()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        self._store.release_connection()
