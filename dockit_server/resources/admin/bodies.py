"""Strict JSON request bodies for the Admin API.

A body must be one JSON object of at most :data:`MAX_BODY_BYTES` (with a ``Content-Length``
or chunked), sent as ``application/json`` (or any ``application/*+json``; without a
``Content-Type`` it is refused too: that is what a cross-site ``fetch`` can send without
asking, see :mod:`dockit_server.cross_site`). Every field is checked for presence and JSON
type, and unknown fields are refused, so a typo such as ``"admn": true`` is an error rather
than a silently ignored wish. Every failure carries a stable code, and field errors name the
field:

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

import json
from collections.abc import Iterable, Mapping
from typing import Any

import falcon

from libdockit.errors import InvalidRequest, ValidationError
from libdockit.secret import Secret

from ...request_body import BodyTooLarge, BodyUnreadable, read_body

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


class Fields:
    """Typed, strict access to the fields of one JSON object body.

    Construct it with every field name the operation accepts; unknown names are refused
    at once. Each getter checks presence and JSON type and names the field when it fails.
    """

    def __init__(self, body: Mapping[str, Any], allowed: Iterable[str]) -> None:
        known = frozenset(allowed)
        unknown = sorted(name for name in body if name not in known)
        if unknown:
            raise UnknownFieldsError(unknown, known)
        self._body = body

    def _get(self, name: str, expected: type, description: str) -> Any:
        if name not in self._body:
            raise ValidationError(name, "is required")
        value = self._body[name]
        # bool is an int in Python; JSON keeps them apart, and so do we.
        if type(value) is not expected:
            raise ValidationError(name, f"must be {description}, not {_json_type(value)}")
        return value

    def string(self, name: str) -> str:
        value: str = self._get(name, str, "a string")
        return value

    def secret(self, name: str) -> Secret:
        """A password field, wrapped at once so it never travels as a plain ``str``."""
        return Secret(self.string(name))

    def boolean(self, name: str, default: bool | None = None) -> bool:
        if name not in self._body and default is not None:
            return default
        value: bool = self._get(name, bool, "true or false")
        return value

    def string_or(self, name: str, default: str) -> str:
        return self.string(name) if name in self._body else default

    def integer(self, name: str, default: int) -> int:
        if name not in self._body:
            return default
        value: int = self._get(name, int, "an integer")
        return value

    def optional_boolean(self, name: str) -> bool | None:
        return self.boolean(name) if name in self._body else None

    def string_list(self, name: str) -> list[str]:
        values: list[Any] = self._get(name, list, "an array of strings")
        for index, item in enumerate(values):
            if type(item) is not str:
                raise ValidationError(
                    name, f"must be an array of strings; item {index} is {_json_type(item)}"
                )
        return list(values)
