"""Helpers shared by the resilience tests."""

from __future__ import annotations

import base64
import json
from typing import Any


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (the signature is checked elsewhere in the suite)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def granted(token: str) -> dict[str, list[str]]:
    """``{"type:name": actions}`` of a token's access claim."""
    return {
        f"{entry['type']}:{entry['name']}": sorted(entry["actions"])
        for entry in jwt_claims(token).get("access", [])
    }
