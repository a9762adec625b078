"""A fake Admin API that answers by route, for routes the real server does not have yet
(and for answers it cannot be made to give). Requests are recorded with their parsed query
and JSON body; a path no route matches gets falcon's plain 404, as the real server gives."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.client.helpers import Canned, QuietHandler, send_canned, serving
from tests.support.dockit import DockitServer

CREDS = {"DOCKIT_USERNAME": "root", "DOCKIT_PASSWORD": "root-pw"}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any

    @property
    def params(self) -> dict[str, str]:
        """Each query parameter's single value (a repeated one fails the test)."""
        for name, values in self.query.items():
            assert len(values) == 1, f"{name} repeated: {values}"
        return {name: values[0] for name, values in self.query.items()}


Route = Canned | Callable[[Seen], Canned]


def answer(status: int, document: object) -> Canned:
    return Canned(status, json.dumps(document).encode())


def error(status: int, code: str, message: str) -> Canned:
    return answer(status, {"errors": [{"code": code, "message": message}]})


NO_CONTENT = Canned(204, b"", ())
NO_ROUTE = error(404, "NOT_FOUND", "404 Not Found")


@contextmanager
def fake_api(routes: Mapping[str, Route]) -> Iterator[tuple[str, list[Seen]]]:
    """Serve ``{"METHOD /api/v1/path": answer or function of the request}``; yields the
    base URL and the list of requests seen."""
    seen: list[Seen] = []

    class Handler(QuietHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urllib.parse.urlsplit(self.path)
            request = Seen(
                self.command,
                parts.path,
                urllib.parse.parse_qs(parts.query, keep_blank_values=True),
                json.loads(raw) if raw else None,
            )
            seen.append(request)
            route = routes.get(f"{self.command} {parts.path}", NO_ROUTE)
            canned = route(request) if callable(route) else route
            send_canned(self, canned)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815 - http.server names

    with serving(Handler) as url:
        yield url, seen


def server_routes(dockit: DockitServer) -> set[str]:
    """The paths the real server's OpenAPI document lists, ``/api/v1/...``."""
    paths = dockit.get("/api/v1/openapi.json").json()["paths"]
    assert isinstance(paths, dict)
    return set(paths)
