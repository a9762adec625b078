"""Reusable parts of the Admin API's OpenAPI 3.1 document: schemas, responses, parameters.

The schemas of request bodies and answers are generated from their declarations
(:mod:`.body_types`, :mod:`.view_types`); ``tests/server/test_openapi.py`` checks real
answers against them. Responses (the error answers) and parameters are written here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from libdockit.model import AUDIT_FILTERS
from libdockit.paging import MAX_PAGE_SIZE
from libdockit.secret import Secret

from .bodies import MAX_BODY_BYTES
from .body_types import NAME_RULE, REQUEST_BODIES, Subject
from .paging import DEFAULT_LIMIT, DEFAULT_OFFSET
from .trust_policy_types import TRUST_POLICY_ANSWERS, TRUST_POLICY_BODIES
from .view_types import ANSWERS

JSON = "application/json"
Schema = dict[str, Any]
_REF_TEMPLATE = "#/components/schemas/{name}"


def ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _custom_schema(kind: type) -> Schema:
    """msgspec's schema hook: the schema of a type msgspec does not know. Its protocol is
    to raise NotImplementedError for a type the hook does not handle either (msgspec then
    reports the type as unsupported): only Secret is ours."""
    if kind is Secret:
        return {"type": "string"}
    raise NotImplementedError(kind)


def schema_of(kind: object) -> Schema:
    """The JSON Schema of one type (e.g. a query parameter's), tidied as below."""
    schema: Schema = _tidy(msgspec.json.schema(kind, schema_hook=_custom_schema))
    return schema


def _tidy(node: Any) -> Any:
    """msgspec's JSON Schema as the document writes it: a nullable type as a list of types
    (``["string", "null"]``), a nullable object as ``oneOf`` (the checker in the tests and
    code generators read these best), string enums typed, and no titles (they repeat the
    schema's name)."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _tidy(value) for key, value in node.items() if key != "title"}
    if isinstance(node.get("description"), str):  # a docstring's line breaks and indents
        node["description"] = " ".join(node["description"].split())
    options = node.get("anyOf")
    if options is not None and {"type": "null"} in options and len(options) == 2:
        (other,) = [option for option in options if option != {"type": "null"}]
        del node["anyOf"]
        if "type" in other and isinstance(other["type"], str):
            node = {**other, **node, "type": [other["type"], "null"]}
        else:
            node["oneOf"] = [{"type": "null"}, other]
    enum = node.get("enum")
    if enum is not None and "type" not in node and all(isinstance(v, str) for v in enum):
        node = {"type": "string", **node}
    return node


def _declared_schemas() -> dict[str, Schema]:
    """Every request body's and answer's schema, from its declaration."""
    _, components = msgspec.json.schema_components(
        (*REQUEST_BODIES, *TRUST_POLICY_BODIES, *ANSWERS, *TRUST_POLICY_ANSWERS),
        schema_hook=_custom_schema,
        ref_template=_REF_TEMPLATE,
    )
    schemas: dict[str, Schema] = {name: _tidy(schema) for name, schema in components.items()}
    for body in (*REQUEST_BODIES, *TRUST_POLICY_BODIES):
        schema = schemas[body.__name__]
        if body.min_fields:
            schema["minProperties"] = body.min_fields
        schema.update(body.schema_extra)
    for schema in schemas.values():
        if schema.get("type") == "object":
            # Answers carry exactly their declared keys; request bodies refuse others.
            schema["additionalProperties"] = False
    return schemas


_SUBJECT = schema_of(Subject)

SCHEMAS: dict[str, Schema] = {
    **_declared_schemas(),
    "GrantCreate": {"oneOf": [ref("schemas", "GrantParts"), ref("schemas", "GrantScope")]},
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
        "DENIED: the credentials are good but the user is not an admin (or they are a "
        "robot's or personal access token's secret, which are for registries only); or a "
        "write a "
        "browser marked as coming from another site (`Sec-Fetch-Site` other than "
        "`same-origin`/`none`, or an `Origin` that is not this host)."
    ),
    "NotFound": _error(
        "NOT_FOUND: the named user, group, member, grant, robot or token does not exist."
    ),
    "Conflict": _error(
        "CONFLICT: it exists already (a robot's name is also taken by a local user of that "
        "name, and the other way round), or the change would lock the caller out (deleting, "
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


def _audit_filters() -> dict[str, Schema]:
    """The query parameters of ``GET /audit``, from :class:`libdockit.model.AuditFilter`."""
    parameters = {}
    for field in AUDIT_FILTERS:
        schema = schema_of(field.type)
        if field.type is datetime:  # msgspec says only "string" (it reads more than RFC 3339)
            schema["format"] = "date-time"
        if field.choices is not None:
            schema["enum"] = list(field.choices)
        parameters[audit_parameter(field.name)] = {
            "name": field.name,
            "in": "query",
            "description": field.doc,
            "schema": schema,
        }
    return parameters


def audit_parameter(name: str) -> str:
    """The component name of an audit filter's parameter (``kind`` -> ``auditKind``)."""
    return "audit" + name.capitalize()


PARAMETERS: dict[str, Schema] = {
    **_audit_filters(),
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
    "user": {
        "name": "user",
        "in": "query",
        "description": "The user to explain for; leave it out for an anonymous caller.",
        "schema": {"type": "string"},
    },
    "explainRobot": {
        "name": "robot",
        "in": "query",
        "description": "Explain for this robot account instead of a user.",
        "schema": {"type": "string"},
    },
    "explainPat": {
        "name": "pat",
        "in": "query",
        "description": "Explain for this personal access token (its id) instead of a user: "
        "its owner's grants narrowed to its scopes.",
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
        "description": NAME_RULE,
        "schema": {"type": "string"},
    },
    "groupName": {
        "name": "name",
        "in": "path",
        "required": True,
        "description": NAME_RULE,
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
    "policyName": {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "A trust policy's name (what clients send as the user name). " + NAME_RULE,
        "schema": {"type": "string"},
    },
    "owner": {
        "name": "owner",
        "in": "query",
        "description": "Only robots of this owner: `user:NAME` or `group:NAME`.",
        "schema": {"type": "string"},
    },
    "robotName": {
        "name": "name",
        "in": "path",
        "required": True,
        "description": NAME_RULE,
        "schema": {"type": "string"},
    },
    "patId": {
        "name": "token_id",
        "in": "path",
        "required": True,
        "description": "A personal access token's public id, as listed (not its secret).",
        "schema": {"type": "string"},
    },
    "tokenId": {
        "name": "token_id",
        "in": "path",
        "required": True,
        "description": "A refresh token's public id, as listed (not the token itself).",
        "schema": {"type": "string"},
    },
}
