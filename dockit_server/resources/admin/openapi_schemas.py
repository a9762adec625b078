"""Reusable parts of the Admin API's OpenAPI 3.1 document: schemas, responses, parameters.

Kept next to the code they describe; ``tests/server/test_openapi.py`` checks real answers
against these schemas, so a change to a view that is not made here fails a test.
"""

from __future__ import annotations

from typing import Any

from libdockit.admin import MAX_PAGE_SIZE
from libdockit.model import MAX_NAME_LENGTH
from libdockit.passwords import MAX_PASSWORD_LENGTH

from .bodies import MAX_BODY_BYTES
from .paging import DEFAULT_LIMIT, DEFAULT_OFFSET

JSON = "application/json"
Schema = dict[str, Any]


def ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _obj(required: list[str], properties: dict[str, Schema], **extra: Any) -> Schema:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


def _list_of(item: str) -> Schema:
    return _obj(
        ["items", "total", "offset", "limit"],
        {
            "items": {"type": "array", "items": ref("schemas", item)},
            "total": {"type": "integer", "minimum": 0, "description": "Items in all pages."},
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
    )


_NAME_RULE = (
    f"1-{MAX_NAME_LENGTH} characters of a-z, 0-9, '.', '_', '@' or '-', starting and ending "
    "with a letter or digit. Sent names are normalised first (Unicode NFKC, lower case), so "
    "`Alice` names the account `alice`."
)
_TIMESTAMP: Schema = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "RFC 3339, UTC, second precision (e.g. `2024-05-01T12:00:00Z`).",
}
_STORED_NAME: Schema = {
    "type": "string",
    "pattern": r"^[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9])?$",
}
_SENT_NAME: Schema = {"type": "string", "description": _NAME_RULE}
_PASSWORD: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_PASSWORD_LENGTH,
    "writeOnly": True,
    "description": "Never returned or logged. No NUL characters.",
}
_SUBJECT: Schema = {
    "type": "string",
    "description": "`user:NAME`, `group:NAME`, `authenticated` (any logged-in user) or "
    "`anonymous` (everyone).",
    "examples": ["group:team", "user:alice", "authenticated"],
}
_ACTION: Schema = {"type": "string", "enum": ["pull", "push", "delete", "*"]}
_ALLOW_UNKNOWN_TYPE: Schema = {
    "type": "boolean",
    "default": False,
    "description": "Registries ask only for `repository` and `registry`; any other type is "
    "refused as a likely typo unless this is true (for a service with types of its own).",
}

SCHEMAS: dict[str, Schema] = {
    "User": _obj(
        ["username", "enabled", "admin", "groups", "created_at", "updated_at"],
        {
            "username": _STORED_NAME,
            "enabled": {"type": "boolean", "description": "Disabled users cannot log in."},
            "admin": {"type": "boolean", "description": "May use the Admin API."},
            "groups": {"type": "array", "items": _STORED_NAME, "description": "Sorted."},
            "created_at": _TIMESTAMP,
            "updated_at": _TIMESTAMP,
        },
    ),
    "UserList": _list_of("User"),
    "UserCreate": _obj(
        ["username", "password"],
        {
            "username": _SENT_NAME,
            "password": _PASSWORD,
            "admin": {"type": "boolean", "default": False},
            "enabled": {"type": "boolean", "default": True},
        },
    ),
    "UserUpdate": _obj(
        [],
        {"enabled": {"type": "boolean"}, "admin": {"type": "boolean"}},
        minProperties=1,
        description="At least one field. An admin cannot disable or demote themselves.",
    ),
    "PasswordSet": _obj(["password"], {"password": _PASSWORD}),
    "Group": _obj(
        ["name", "enabled", "members", "created_at"],
        {
            "name": _STORED_NAME,
            "enabled": {"type": "boolean", "description": "Disabled groups grant nothing."},
            "members": {"type": "array", "items": _STORED_NAME, "description": "Sorted."},
            "created_at": _TIMESTAMP,
        },
    ),
    "GroupList": _list_of("Group"),
    "GroupCreate": _obj(
        ["name"], {"name": _SENT_NAME, "enabled": {"type": "boolean", "default": True}}
    ),
    "GroupUpdate": _obj(["enabled"], {"enabled": {"type": "boolean"}}),
    "Grant": _obj(
        ["id", "subject", "resource_type", "pattern", "actions", "scope", "created_at"],
        {
            "id": {"type": "integer", "minimum": 1},
            "subject": _SUBJECT,
            "resource_type": {"type": "string", "pattern": "^[a-z0-9]+$", "maxLength": 64},
            "pattern": {"type": "string"},
            "actions": {"type": "array", "items": _ACTION, "minItems": 1},
            "scope": {
                "type": "string",
                "description": "`resource_type:pattern:actions`, as POST accepts it.",
                "examples": ["repository:team/*:pull,push"],
            },
            "created_at": _TIMESTAMP,
            "notes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Only in POST's answer, when something was accepted on trust: "
                "a subject with no local user or group, taken to be the directory's (LDAP).",
            },
        },
    ),
    "GrantList": _list_of("Grant"),
    "Key": _obj(
        [
            "kid",
            "algorithm",
            "state",
            "created_at",
            "activated_at",
            "retired_at",
            "not_after",
            "days_left",
        ],
        {
            "kid": {"type": "string", "description": "libtrust key ID, as in token headers."},
            "algorithm": {"type": "string", "enum": ["ES256", "RS256"]},
            "state": {
                "type": "string",
                "enum": ["pending", "active", "retired"],
                "description": "pending: published, not signing; active: signs; retired: "
                "published until the tokens it signed have expired.",
            },
            "created_at": _TIMESTAMP,
            "activated_at": _TIMESTAMP,
            "retired_at": _TIMESTAMP,
            "not_after": _TIMESTAMP,
            "days_left": {"type": "number", "description": "Days until the certificate expires."},
        },
    ),
    "KeyList": _obj(["items"], {"items": {"type": "array", "items": ref("schemas", "Key")}}),
    "KeyCreate": _obj(
        [],
        {
            "algorithm": {"type": "string", "enum": ["ES256", "RS256"], "default": "ES256"},
            "validity_days": {
                "type": "integer",
                "minimum": 1,
                "maximum": 3650,
                "default": 365,
            },
        },
    ),
    "AuditEvent": _obj(
        [
            "id",
            "at",
            "kind",
            "actor",
            "action",
            "target",
            "before",
            "after",
            "detail",
            "client_address",
            "request_id",
        ],
        {
            "id": {"type": "integer", "minimum": 1},
            "at": _TIMESTAMP,
            "kind": {"type": "string", "enum": ["admin", "token"]},
            "actor": {"type": "string", "description": "`user:NAME` or `anonymous`."},
            "action": {
                "type": "string",
                "description": "e.g. `user.create`, `grant.delete`, `key.activate`, "
                "`token.issue`, `token.refuse`.",
            },
            "target": {"type": ["string", "null"]},
            "before": {"type": ["object", "null"], "description": "State before a change."},
            "after": {"type": ["object", "null"], "description": "State after a change."},
            "detail": {
                "type": ["object", "null"],
                "description": "Token decisions: service, requested and granted scopes, "
                "outcome and the error code of a refusal.",
            },
            "client_address": {"type": ["string", "null"]},
            "request_id": {"type": ["string", "null"]},
        },
    ),
    "AuditEventList": _list_of("AuditEvent"),
    "Explanation": _obj(
        ["subject", "groups", "account", "notes", "scopes"],
        {
            "subject": _SUBJECT,
            "groups": {
                "type": "array",
                "items": _STORED_NAME,
                "description": "The enabled groups whose grants were considered.",
            },
            "account": {
                "oneOf": [
                    {"type": "null"},
                    _obj(
                        ["local", "enabled"],
                        {"local": {"type": "boolean"}, "enabled": {"type": ["boolean", "null"]}},
                    ),
                ],
                "description": "The local account behind a user subject (null: anonymous).",
            },
            "notes": {"type": "array", "items": {"type": "string"}},
            "scopes": {
                "type": "array",
                "items": _obj(
                    ["scope", "type", "name", "actions"],
                    {
                        "scope": {"type": "string"},
                        "type": {"type": "string"},
                        "name": {"type": "string"},
                        "actions": {
                            "type": "array",
                            "items": _obj(
                                ["action", "granted", "grants"],
                                {
                                    "action": {"type": "string"},
                                    "granted": {"type": "boolean"},
                                    "grants": {
                                        "type": "array",
                                        "items": ref("schemas", "Grant"),
                                        "description": "Every grant that gives this action.",
                                    },
                                },
                            ),
                        },
                    },
                ),
            },
        },
    ),
    "GrantParts": _obj(
        ["subject", "resource_type", "pattern", "actions"],
        {
            "subject": _SUBJECT,
            "resource_type": {
                "type": "string",
                "maxLength": 64,
                "examples": ["repository", "registry"],
            },
            "pattern": {
                "type": "string",
                "description": "A resource name in which `*` matches within one path "
                "segment, `**` matches across segments and `${user}` is the caller's "
                "username.",
                "examples": ["team/*", "team/**", "users/${user}/*"],
            },
            "actions": {
                "type": "array",
                "items": _ACTION,
                "minItems": 1,
                "description": "`push` implies `pull`; `*` is every action.",
            },
            "allow_unknown_type": _ALLOW_UNKNOWN_TYPE,
        },
    ),
    "GrantScope": _obj(
        ["subject", "scope"],
        {
            "subject": _SUBJECT,
            "scope": {
                "type": "string",
                "description": "`resource_type:pattern:actions`; the pattern may contain "
                "`:` (e.g. `host:5000/team/*`).",
                "examples": ["repository:team/*:pull,push"],
            },
            "allow_unknown_type": _ALLOW_UNKNOWN_TYPE,
        },
    ),
    "GrantCreate": {"oneOf": [ref("schemas", "GrantParts"), ref("schemas", "GrantScope")]},
    "Error": _obj(
        ["errors"],
        {
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": _obj(
                    ["code", "message"],
                    {
                        "code": {
                            "type": "string",
                            "description": "Stable; branch on it, not on the message.",
                            "examples": ["INVALID_FIELD", "NOT_FOUND", "CONFLICT"],
                        },
                        "message": {"type": "string", "description": "What to do about it."},
                        "detail": {
                            "description": "Structured detail, e.g. "
                            '`{"field": "username"}` for INVALID_FIELD.'
                        },
                    },
                ),
            }
        },
    ),
    "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
}


def _error(description: str, **headers: Schema) -> Schema:
    response: Schema = {
        "description": description,
        "content": {JSON: {"schema": ref("schemas", "Error")}},
    }
    if headers:
        response["headers"] = {name: {"schema": schema} for name, schema in headers.items()}
    return response


RESPONSES: dict[str, Schema] = {
    "BadRequest": _error(
        "Malformed request. Codes: INVALID_BODY (not one JSON object), INVALID_FIELD (a "
        "missing, mistyped, unknown or invalid field or query parameter, named in "
        "`detail.field`), SCOPE_INVALID."
    ),
    "Unauthorized": _error(
        "UNAUTHORIZED: missing, malformed or bad HTTP Basic credentials.",
        **{"WWW-Authenticate": {"type": "string", "examples": ['Basic realm="dockit"']}},
    ),
    "Forbidden": _error(
        "DENIED: the credentials are good but the user is not an admin; or a write a "
        "browser marked as coming from another site (`Sec-Fetch-Site` other than "
        "`same-origin`/`none`, or an `Origin` that is not this host)."
    ),
    "NotFound": _error("NOT_FOUND: the named user, group, member or grant does not exist."),
    "Conflict": _error(
        "CONFLICT: it exists already, or the change would lock the caller out (deleting, "
        "disabling or demoting oneself)."
    ),
    "ContentTooLarge": _error(f"BODY_TOO_LARGE: the body exceeds {MAX_BODY_BYTES} bytes."),
    "UnsupportedMediaType": _error(
        "UNSUPPORTED_MEDIA_TYPE: a write sent a Content-Type that is not JSON, or a body "
        "without a JSON Content-Type. Writes that take no body send no Content-Type."
    ),
    "Unavailable": _error("UNAVAILABLE: a backend cannot answer now; retry later."),
    "TooManyRequests": _error(
        "TOOMANYREQUESTS: too many failed logins for this user or from this address; the "
        "credentials were not checked. Retry after `Retry-After` seconds.",
        **{"Retry-After": {"type": "string", "pattern": "^[0-9]+$"}},
    ),
}

PARAMETERS: dict[str, Schema] = {
    "offset": {
        "name": "offset",
        "in": "query",
        "description": "Items to skip.",
        "schema": {"type": "integer", "minimum": 0, "default": DEFAULT_OFFSET},
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "description": "Largest number of items to return.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PAGE_SIZE,
            "default": DEFAULT_LIMIT,
        },
    },
    "subject": {
        "name": "subject",
        "in": "query",
        "description": "Only grants for this subject.",
        "schema": _SUBJECT,
    },
    "auditKind": {
        "name": "kind",
        "in": "query",
        "description": "`admin` (changes) or `token` (decisions).",
        "schema": {"type": "string", "enum": ["admin", "token"]},
    },
    "auditActor": {
        "name": "actor",
        "in": "query",
        "description": "Who acted, e.g. `user:alice` or `anonymous`.",
        "schema": {"type": "string"},
    },
    "auditAction": {
        "name": "action",
        "in": "query",
        "description": "An action, or a prefix ending in `.*` (e.g. `user.*`).",
        "schema": {"type": "string"},
    },
    "auditTarget": {
        "name": "target",
        "in": "query",
        "description": "What was acted on, e.g. `user:bob`, `grant:12`, or a service.",
        "schema": {"type": "string"},
    },
    "since": {
        "name": "since",
        "in": "query",
        "description": "Only events at or after this RFC 3339 time.",
        "schema": {"type": "string", "format": "date-time"},
    },
    "until": {
        "name": "until",
        "in": "query",
        "description": "Only events before this RFC 3339 time.",
        "schema": {"type": "string", "format": "date-time"},
    },
    "user": {
        "name": "user",
        "in": "query",
        "description": "The user to explain for; leave it out for an anonymous caller.",
        "schema": {"type": "string"},
    },
    "scope": {
        "name": "scope",
        "in": "query",
        "required": True,
        "description": "Scopes as in a token request: repeat it, or space-separate several.",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    },
    "username": {
        "name": "username",
        "in": "path",
        "required": True,
        "description": _NAME_RULE,
        "schema": {"type": "string"},
    },
    "groupName": {
        "name": "name",
        "in": "path",
        "required": True,
        "description": _NAME_RULE,
        "schema": {"type": "string"},
    },
    "kid": {
        "name": "kid",
        "in": "path",
        "required": True,
        "description": "A key's libtrust ID, e.g. `ABCD:EFGH:...` (12 groups of 4).",
        "schema": {"type": "string"},
    },
    "grantId": {
        "name": "grant_id",
        "in": "path",
        "required": True,
        "description": "A grant's id; anything but a positive integer is INVALID_FIELD.",
        "schema": {"type": "integer", "minimum": 1},
    },
}
