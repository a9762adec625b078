"""The building blocks of the Admin API's OpenAPI path items: an authenticated operation, a
JSON answer, parameters by name, and the responses every write shares. :mod:`.openapi_doc`
and the modules holding one area's paths (:mod:`.openapi_credentials`,
:mod:`.openapi_trust_policies`) are written with them."""

from __future__ import annotations

from .openapi_schemas import JSON, Schema, ref

AUTH_ERRORS = {
    "401": ref("responses", "Unauthorized"),
    "403": ref("responses", "Forbidden"),
    "429": ref("responses", "TooManyRequests"),
    "503": ref("responses", "Unavailable"),
}
BODY_ERRORS = {
    "413": ref("responses", "ContentTooLarge"),
    "415": ref("responses", "UnsupportedMediaType"),
}
LOCATION = {"Location": {"description": "Path of the new resource.", "schema": {"type": "string"}}}


def params(*names: str) -> list[Schema]:
    return [ref("parameters", name) for name in names]


def ok(description: str, schema: str, *, headers: Schema | None = None) -> Schema:
    response: Schema = {
        "description": description,
        "content": {JSON: {"schema": ref("schemas", schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


def op(
    operation_id: str,
    summary: str,
    tag: str,
    success: dict[str, Schema],
    *,
    errors: tuple[str, ...] = (),
    body: str | None = None,
    description: str | None = None,
) -> Schema:
    """One authenticated operation; ``errors`` are the extra statuses it may answer."""
    responses: dict[str, Schema] = dict(success)
    named = {"400": "BadRequest", "404": "NotFound", "409": "Conflict"}
    for status in ("400", *errors):
        responses[status] = ref("responses", named[status])
    responses.update(AUTH_ERRORS)
    operation: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": ref("schemas", body)}},
        }
        responses.update(BODY_ERRORS)
    operation["responses"] = dict(sorted(responses.items()))
    return operation


NO_CONTENT = {"204": {"description": "Done; no body."}}
