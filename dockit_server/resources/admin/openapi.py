"""``GET /api/v1/openapi.json``: the Admin API's OpenAPI document (public, no credentials).

The document is serialised once, at construction, and served as bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import falcon

from .openapi_doc import OPENAPI_DOCUMENT


class OpenApiResource:
    def __init__(self, document: Mapping[str, Any] = OPENAPI_DOCUMENT) -> None:
        self._body = json.dumps(document, indent=2, sort_keys=False).encode()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body
        resp.set_header("Cache-Control", "public, max-age=300")
