"""Read a JWT's header and claims without verifying it, for tests that look at what a token
says (tests about trust use :mod:`tests.support.verifier`)."""

from __future__ import annotations

import base64
import json
from typing import Any


def _b64json(segment: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


def jwt_header(token: str) -> dict[str, Any]:
    return _b64json(token.split(".", maxsplit=1)[0])


def jwt_claims(token: str) -> dict[str, Any]:
    return _b64json(token.split(".")[1])
