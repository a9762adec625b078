"""The one mapping from errors to HTTP answers.

Every error body is distribution-style::

    {"errors": [{"code": "SCOPE_INVALID", "message": "...", "detail": ...}]}

Unexpected exceptions become a 500 whose body says nothing about the cause; the cause is
logged with the request id, never with credentials.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import falcon

from libdockit.errors import DockitError, TooManyAttempts

from .read_deadline import RequestTimeout

log = logging.getLogger("dockit.server")

DEFAULT_REALM = "dockit"

#: Framework errors that mean "this client sent something we cannot take" (a 404 or 405
#: is left to the access log: scanners send plenty of those).
_LOGGED_HTTP_ERRORS = frozenset({400, 413, 415})


def _log_refusal(req: falcon.Request, code: str, message: str) -> None:
    """One line per malformed request, so an operator sees why a client was refused
    (messages never carry a submitted value, so no credential reaches the log)."""
    log.info(
        "refused %s %s (request %s): %s: %s",
        req.method,
        req.path,
        req.context.get("request_id"),
        code,
        message,
    )


def status_for(error: DockitError) -> str:
    """The HTTP status line of the error's ``http_status`` (see :mod:`libdockit.errors`)."""
    return str(falcon.code_to_http_status(error.http_status))


def error_body(code: str, message: str, detail: Any = None) -> bytes:
    entry: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        entry["detail"] = detail
    return json.dumps({"errors": [entry]}).encode()


def basic_challenge(realm: str) -> str:
    return f'Basic realm="{realm}", charset="UTF-8"'


def _set_error(resp: falcon.Response, status: str, body: bytes) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = body
    resp.set_header("Cache-Control", "no-store")


class ErrorHandlers:
    """Falcon error handlers; ``realm`` goes into the Basic challenge of every 401."""

    def __init__(self, realm: str = DEFAULT_REALM) -> None:
        self.realm = realm

    def install(self, app: falcon.App[falcon.Request, falcon.Response]) -> None:
        app.add_error_handler(Exception, self.unexpected)
        app.add_error_handler(falcon.HTTPError, self.http_error)
        app.add_error_handler(DockitError, self.dockit_error)
        app.add_error_handler(RequestTimeout, self.request_timeout)

    def dockit_error(
        self, req: falcon.Request, resp: falcon.Response, ex: DockitError, params: Any
    ) -> None:
        status = status_for(ex)
        req.context.error_code = ex.code
        if status == falcon.HTTP_500:
            log.error("unhandled %s: %s", type(ex).__name__, ex.message)
            req.context.error_message = "internal error"
            _set_error(resp, status, error_body("INTERNAL", "internal error"))
            return
        req.context.error_message = ex.message
        if status == falcon.HTTP_400:
            _log_refusal(req, ex.code, ex.message)
        if status == falcon.HTTP_401:
            resp.set_header("WWW-Authenticate", basic_challenge(self.realm))
        if isinstance(ex, TooManyAttempts):
            resp.set_header("Retry-After", str(ex.retry_after))
        if status == falcon.HTTP_503:
            log.warning("backend unavailable for %s %s: %s", req.method, req.path, ex.message)
        _set_error(resp, status, error_body(ex.code, ex.message, ex.detail))

    def http_error(
        self, req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
    ) -> None:
        # falcon titles read "405 Method Not Allowed"; the code is "METHOD_NOT_ALLOWED".
        code = re.sub(r"^\d+\s*", "", ex.title or "error").upper().replace(" ", "_")
        req.context.error_code = code
        message = ex.description or ex.title or "error"
        req.context.error_message = message
        if ex.status_code in _LOGGED_HTTP_ERRORS:
            _log_refusal(req, code, message)
        _set_error(resp, str(falcon.code_to_http_status(ex.status)), error_body(code, message))
        if ex.headers:
            resp.set_headers(ex.headers)

    def request_timeout(
        self, req: falcon.Request, resp: falcon.Response, ex: RequestTimeout, params: Any
    ) -> None:
        """The body stopped arriving (see read_deadline): 408 (the worker closes the
        connection)."""
        req.context.error_code = "REQUEST_TIMEOUT"
        _set_error(resp, falcon.HTTP_408, error_body("REQUEST_TIMEOUT", str(ex)))

    def unexpected(
        self, req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
    ) -> None:
        log.exception("unexpected error on %s %s", req.method, req.path)
        req.context.error_message = "internal error"
        _set_error(resp, falcon.HTTP_500, error_body("INTERNAL", "internal error"))
