"""A small client of the Admin API over ``urllib``: JSON in and out, HTTP Basic, timeouts.

Every call reads and closes its response and is bounded by ``timeout`` seconds. Answers map
to the typed errors of :mod:`.errors`:

* connection refused, a timeout, a broken connection, HTTP 5xx → :class:`UnreachableError`
  (a 5xx carries Dockit's own message, e.g. that its database cannot answer);
* an error answer with Dockit's body (``{"errors": [{"code", "message"}]}``) →
  :class:`ApiError` with the status and code; 401 and 403 get messages that name the user and
  where its credentials came from, never the secret;
* anything else (a redirect, HTML, a body that is not JSON) → :class:`CliError`, exit 1.

Redirects are not followed: urllib would resend the ``Authorization`` header to wherever the
redirect points. Proxies from the environment (``HTTP_PROXY``, ``NO_PROXY``) apply as for
curl and docker.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import Any

from ..connection_hints import certificate_hint, strip_api_suffix, wrong_scheme_hint
from .credential_record import Credentials
from .errors import ApiError, CliError, UnreachableError, UsageError

API_PREFIX = "/api/v1"
DEFAULT_URL = "http://127.0.0.1:4315"
DEFAULT_TIMEOUT = 30.0
#: The Admin API's largest page (``libdockit.admin.MAX_PAGE_SIZE``).
PAGE_SIZE = 1000
#: Admin answers are small; a larger body is not Dockit's.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
USER_AGENT = "dockit-cli/1"
#: What falcon answers for a path no route matches (rather than for a missing object).
NO_ROUTE_MESSAGE = "404 Not Found"

JsonObject = dict[str, Any]
#: Query parameters: a mapping, or pairs when a parameter repeats (``scope`` of explain).
Query = dict[str, str] | list[tuple[str, str]]


def check_url(raw: str) -> str:
    """Dockit's base URL without a trailing ``/``; a usage error unless http(s)://HOST[/path]."""
    parts = urllib.parse.urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url must be http://HOST[:PORT] or https://..., not {raw!r}")
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            "--url must not contain credentials; see `dockit --help` for where they come from"
        )
    if parts.query or parts.fragment:
        raise UsageError("--url must not have a query or fragment")
    try:
        _ = parts.port
    except ValueError:
        raise UsageError(f"--url has an invalid port: {raw!r}") from None
    # `http://HOST:4315/api/v1` names the Admin API itself: take it as the base URL.
    path = strip_api_suffix(parts.path)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def quote(name: str) -> str:
    """One path segment: every reserved character escaped, ``/`` included."""
    return urllib.parse.quote(name, safe="")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


class AdminClient:
    """Calls ``URL/api/v1/...`` as ``credentials``."""

    def __init__(
        self, url: str, credentials: Credentials, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.url = check_url(url)
        self.credentials = credentials
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())

    # -- verbs ----------------------------------------------------------------------------
    def get(self, path: str, query: Query | None = None) -> JsonObject:
        return _object(self.call("GET", path, query=query), path)

    def post(self, path: str, body: JsonObject) -> JsonObject:
        return _object(self.call("POST", path, body), path)

    def patch(self, path: str, body: JsonObject) -> JsonObject:
        return _object(self.call("PATCH", path, body), path)

    def put(self, path: str, body: JsonObject | None = None) -> Any:
        return self.call("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)

    def list_all(self, path: str, query: dict[str, str] | None = None) -> list[JsonObject]:
        """Every item of a paged listing, fetching pages of :data:`PAGE_SIZE`."""
        items: list[JsonObject] = []
        while True:
            page = self.get(
                path, {**(query or {}), "offset": str(len(items)), "limit": str(PAGE_SIZE)}
            )
            batch = page.get("items")
            total = page.get("total")
            if not isinstance(batch, list) or not isinstance(total, int):
                raise CliError(
                    f"unexpected answer from {self.url}{API_PREFIX}{path}: not a listing"
                )
            items.extend(_object(item, path) for item in batch)
            if not batch or len(items) >= total:
                return items

    # -- transport ------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        body: JsonObject | None = None,
        *,
        query: Query | None = None,
    ) -> Any:
        """One request; the parsed JSON answer (None for 204), else a typed error."""
        url = self.url + API_PREFIX + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": self._authorization(),
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        # check_url allowed only http(s) URLs.
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            with exc:
                raw = _read_quietly(exc)
            raise self._error(exc.code, raw, exc.headers, path) from None
        except (OSError, http.client.HTTPException) as exc:
            hint = wrong_scheme_hint(self.url, exc)
            if hint is not None:
                raise UsageError(f"cannot talk to Dockit at {self.url}: {hint}") from None
            raise UnreachableError(f"cannot reach Dockit at {self.url}: {_reason(exc)}") from None
        if status == 204 or not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise CliError(
                f"unexpected answer from {url}: HTTP {status} is not JSON (is --url Dockit?)"
            ) from None

    def _authorization(self) -> str:
        creds = self.credentials
        pair = f"{creds.username}:{creds.password.reveal()}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _error(self, status: int, raw: bytes, headers: Message, path: str) -> CliError:
        code, message, detail = _error_body(raw)
        who = self.credentials.username
        if 300 <= status < 400:
            target = headers.get("Location", "?")
            return CliError(
                f"Dockit at {self.url} answered HTTP {status}, a redirect to {target}; "
                "pass the final URL with --url (credentials are not sent on to redirects)"
            )
        if code is None:
            text = f"Dockit at {self.url} answered HTTP {status} without a Dockit error body"
            if status >= 500:
                return UnreachableError(text)
            return CliError(text + " (is --url pointing at Dockit?)")
        if status == 401:
            message = (
                f"Dockit at {self.url} refused the credentials of {who!r} from "
                f"{self.credentials.source}: wrong password or token, or the user is "
                "disabled or does not exist"
            )
        elif status == 403:
            message = (
                f"{who} is not an admin: the Admin API needs a user with the admin flag "
                f"(another admin can run `dockit user promote {who}`)"
            )
        elif status >= 500:
            message = f"Dockit at {self.url} cannot answer now: {message} ({code}, HTTP {status})"
        elif status == 404 and message == NO_ROUTE_MESSAGE:
            # No such route (rather than no such user): a base URL with a path too many,
            # or a server older than this command (see commands.support.newer_route).
            error = ApiError(
                f"Dockit at {self.url} has no route {API_PREFIX}{path}: check --url "
                "(DOCKIT_URL); it is Dockit's base URL, e.g. http://HOST:4315, with a path "
                "only when a proxy serves Dockit under one",
                status=status,
                code=code,
                detail=detail,
            )
            error.no_route = True
            return error
        return ApiError(message, status=status, code=code, detail=detail)


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(MAX_ANSWER_BYTES)
    except (OSError, http.client.HTTPException):
        return b""


def _error_body(raw: bytes) -> tuple[str | None, str, object]:
    """``(code, message, detail)`` of the first entry of a Dockit error body, else None."""
    try:
        data = json.loads(raw)
        entry = data["errors"][0]
        code, message = entry["code"], entry["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None, "", None
    if not isinstance(code, str) or not isinstance(message, str):
        return None, "", None
    return code, message, entry.get("detail")


def _reason(exc: BaseException) -> str:
    untrusted = certificate_hint(exc)
    if untrusted is not None:
        return untrusted
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, TimeoutError):
        return "timed out (raise --timeout if Dockit is slow)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is `dockit api-server` running there?)"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)


def _object(value: Any, path: str) -> JsonObject:
    if not isinstance(value, dict):
        raise CliError(f"unexpected answer from {API_PREFIX}{path}: not a JSON object")
    return value
