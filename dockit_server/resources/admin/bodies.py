"""Strict JSON request bodies for the Admin API.

:func:`read_body_as` reads a body and checks it against its declaration
(:mod:`.body_types`). A body must be one JSON object of at most :data:`MAX_BODY_BYTES`
(with a ``Content-Length`` or chunked), sent as ``application/json`` (or any
``application/*+json``; without a ``Content-Type`` it is refused too: that is what a
cross-site ``fetch`` can send without asking, see :mod:`dockit_server.cross_site`). Every
field is checked for presence and JSON type, and unknown fields are refused, so a typo such
as ``"admn": true`` is an error rather than a silently ignored wish. Every failure carries a
stable code, and field errors name the field:

* ``INVALID_BODY`` (400): empty, not UTF-8, not JSON, not an object, a repeated key, or
  cut short (broken chunked framing);
* ``INVALID_FIELD`` (400): a missing, mistyped or unknown field (``detail.field``; unknown
  fields are all listed in ``detail.fields``);
* ``BODY_TOO_LARGE`` (413): more than :data:`MAX_BODY_BYTES`;
* ``UNSUPPORTED_MEDIA_TYPE`` (415): no ``Content-Type``, or one that is not JSON.

Nothing here echoes a field's value in an error, so a password sent with a typo in the
body never comes back in a response or a log line.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar

import falcon
import msgspec

from libdockit.errors import InvalidRequest, ValidationError
from libdockit.secret import Secret

from ...request_body import BodyTooLarge, BodyUnreadable, read_body
from .body_types import Body

B = TypeVar("B", bound=Body)

#: Largest accepted request body: admin bodies are a few hundred bytes at most.
MAX_BODY_BYTES = 64 * 1024


class InvalidBody(InvalidRequest):
    """The request body is not one well-formed JSON object."""

    code = "INVALID_BODY"


class UnknownFieldsError(ValidationError):
    """The body has fields the operation does not know; ``detail.fields`` lists them."""

    def __init__(self, unknown: list[str], allowed: Iterable[str]) -> None:
        known = ", ".join(sorted(allowed)) or "none"
        plural = "s" if len(unknown) > 1 else ""
        super().__init__(", ".join(unknown), f"unknown field{plural} (known fields: {known})")
        self.detail = {"field": unknown[0], "fields": unknown}


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def unsupported_media_type() -> falcon.HTTPUnsupportedMediaType:
    return falcon.HTTPUnsupportedMediaType(
        title="UNSUPPORTED_MEDIA_TYPE",
        description="send the request body as application/json (Content-Type: "
        "application/json); a request that needs no body sends none, and no Content-Type",
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidBody(f"the JSON object has the key {key!r} more than once")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise InvalidBody(f"{name} is not valid JSON")


def read_object(req: falcon.Request) -> dict[str, Any]:
    """The request body as a JSON object; raises the 400, 413 or 415 errors listed above."""
    content_type = req.content_type
    if not content_type or not is_json_media_type(content_type):
        raise unsupported_media_type()
    try:
        raw = read_body(req, MAX_BODY_BYTES)
    except BodyTooLarge:
        raise _too_large() from None
    except BodyUnreadable:
        raise InvalidBody("the request body could not be read to its end") from None
    if not raw.strip():
        raise InvalidBody("the request body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise InvalidBody("the request body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidBody(
            f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise InvalidBody("the request body is nested too deeply") from None
    except ValueError:  # e.g. an integer of more digits than int() converts (4300)
        raise InvalidBody("the request body has a number too large to read") from None
    if not isinstance(value, dict):
        raise InvalidBody(f"the request body must be a JSON object, not {_json_type(value)}")
    return value


def _too_large() -> falcon.HTTPContentTooLarge:
    return falcon.HTTPContentTooLarge(
        title="BODY_TOO_LARGE",
        description=f"the request body is larger than {MAX_BODY_BYTES} bytes",
    )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def read_body_as(req: falcon.Request, declaration: type[B]) -> B:
    """The request body as ``declaration``; raises the 400, 413 or 415 errors listed above."""
    return decode_body(read_object(req), declaration)


def decode_body(body: dict[str, Any], declaration: type[B]) -> B:
    """``body`` (a JSON object) as ``declaration``: unknown fields first (all of them named),
    then each field in declared order: missing, or of the wrong JSON type."""
    known = declaration.__struct_fields__
    unknown = sorted(name for name in body if name not in known)
    if unknown:
        raise UnknownFieldsError(unknown, known)
    try:
        value = msgspec.convert(body, declaration, strict=True, dec_hook=_decode_custom)
    except msgspec.ValidationError as exc:
        raise _field_error(body, declaration, str(exc)) from None
    if len(body) < declaration.min_fields:
        names = " and ".join(f"'{name}'" for name in known)
        raise ValidationError(known[0], f"give at least one of {names}")
    return value


def _decode_custom(kind: type, value: Any) -> Any:
    if kind is Secret and type(value) is str:
        return Secret(value)  # a password never travels as a plain str
    raise TypeError(f"expected a string, not {_json_type(value)}")


#: What each JSON type of a declaration is called in an error message.
_DESCRIPTIONS: tuple[tuple[type, type, str], ...] = (
    (msgspec.inspect.BoolType, bool, "true or false"),
    (msgspec.inspect.StrType, str, "a string"),
    (msgspec.inspect.IntType, int, "an integer"),
    (msgspec.inspect.CustomType, str, "a string"),  # Secret
)


def _field_error(body: dict[str, Any], declaration: type[Body], reason: str) -> ValidationError:
    """The first field of ``declaration`` that ``body`` gets wrong, in the words Dockit's
    errors have always used (msgspec said ``reason``, e.g. "Expected `bool`, got `int`")."""
    for field in _fields_of(declaration):
        if field.name not in body:
            if field.required:
                return ValidationError(field.name, "is required")
            continue
        problem = _type_problem(body[field.name], _unwrapped(field.type))
        if problem is not None:
            return ValidationError(field.name, problem)
    # Not reached while the checks above cover every type a declaration uses.
    where = re.search(r"at `\$\.(\w+)", reason)
    return ValidationError(where.group(1) if where else "body", reason.partition(" - at")[0])


@functools.cache
def _fields_of(declaration: type[Body]) -> tuple[msgspec.inspect.Field, ...]:
    info = msgspec.inspect.type_info(declaration)
    assert isinstance(info, msgspec.inspect.StructType)
    return info.fields


def _unwrapped(kind: msgspec.inspect.Type) -> msgspec.inspect.Type:
    while isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    return kind


def _type_problem(value: object, kind: msgspec.inspect.Type) -> str | None:
    # bool is an int in Python; JSON keeps them apart, and so do we.
    if isinstance(kind, msgspec.inspect.ListType):
        if type(value) is not list:
            return f"must be an array of strings, not {_json_type(value)}"
        item_kind = _unwrapped(kind.item_type)
        for index, item in enumerate(value):
            if _type_problem(item, item_kind) is not None:
                return f"must be an array of strings; item {index} is {_json_type(item)}"
        return None
    for info, python_type, description in _DESCRIPTIONS:
        if isinstance(kind, info):
            if type(value) is python_type:
                return None
            return f"must be {description}, not {_json_type(value)}"
    return None
