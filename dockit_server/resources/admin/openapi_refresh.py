"""OpenAPI parts for the refresh-token routes (:mod:`.refresh_tokens`): schemas and the
``token_id`` path parameter, merged into the document by :mod:`.openapi_doc`.

Kept apart from :mod:`.openapi_schemas` to keep each module small.
"""

from __future__ import annotations

from libdockit.admin import MAX_PAGE_SIZE

from .openapi_schemas import Schema, ref

_TIMESTAMP: Schema = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "RFC 3339, UTC, second precision (e.g. `2024-05-01T12:00:00Z`).",
}
_USERNAME: Schema = {"type": "string", "pattern": r"^[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9])?$"}

REFRESH_TOKEN_SCHEMAS: dict[str, Schema] = {
    "RefreshToken": {
        "type": "object",
        "description": "A refresh token (docker's identity token). Its value is shown once, "
        "to the client that logged in, and never stored: only its SHA-256 is.",
        "required": [
            "id",
            "username",
            "service",
            "client_id",
            "created_at",
            "last_used_at",
            "expires_at",
            "source",
        ],
        "properties": {
            "id": {"type": "string", "description": "Public id, to revoke it by; not secret."},
            "username": _USERNAME,
            "service": {"type": "string", "description": "The registry service it is for."},
            "client_id": {
                "type": ["string", "null"],
                "description": "The client that asked for it, e.g. `docker`.",
            },
            "created_at": _TIMESTAMP,
            "last_used_at": {
                **_TIMESTAMP,
                "description": "When it last got a token (to the minute); null: never used.",
            },
            "expires_at": {**_TIMESTAMP, "description": "null: it does not expire."},
            "source": {
                "type": "string",
                "description": "Whose user it is: `local` (a Dockit user) or `ldap` (a "
                "directory user, checked against the directory on every use).",
                "examples": ["local", "ldap"],
            },
        },
        "additionalProperties": False,
    },
    "RefreshTokenList": {
        "type": "object",
        "required": ["items", "total", "offset", "limit"],
        "properties": {
            "items": {"type": "array", "items": ref("schemas", "RefreshToken")},
            "total": {"type": "integer", "minimum": 0, "description": "Items in all pages."},
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
        "additionalProperties": False,
    },
    "RefreshTokensRevoked": {
        "type": "object",
        "required": ["username", "revoked"],
        "properties": {
            "username": _USERNAME,
            "revoked": {"type": "integer", "minimum": 0, "description": "How many were revoked."},
        },
        "additionalProperties": False,
    },
}

REFRESH_TOKEN_PARAMETERS: dict[str, Schema] = {
    "tokenId": {
        "name": "token_id",
        "in": "path",
        "required": True,
        "description": "A refresh token's public id, as listed (not the token itself).",
        "schema": {"type": "string"},
    },
}
