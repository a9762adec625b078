"""The form body of ``POST /v2/token`` (distribution's docs/spec/auth/oauth.md).

The body must be ``application/x-www-form-urlencoded`` UTF-8 of at most
:data:`MAX_FORM_BYTES`, sent with a ``Content-Length`` or chunked (as containers/image
sends it). Fields other than those read are ignored, as OAuth2 asks; a field
read as single (all but ``scope``) may not repeat. Every failure is a 400 with a
distribution-style error naming the field, and never echoes a value: the form carries
passwords and refresh tokens.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import falcon

from libdockit.errors import InvalidRequest

from ..request_body import BodyTooLarge, BodyUnreadable, read_body

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
#: Largest accepted body: a password (1 KiB at most) plus scopes.
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 256


class OAuthForm:
    """The fields of one token request form."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._fields: dict[str, list[str]] = {}
        for name, value in pairs:
            self._fields.setdefault(name, []).append(value)

    def single(self, name: str) -> str | None:
        """The field's value, None if absent; 400 if it is given more than once."""
        values = self._fields.get(name)
        if values is None:
            return None
        if len(values) > 1:
            raise InvalidRequest(f"the '{name}' field is given more than once")
        return values[0]

    def once(self, name: str) -> str | None:
        """The field's value if it was sent exactly once, else None (for the audit log of a
        form refused for something else)."""
        values = self._fields.get(name)
        return values[0] if values is not None and len(values) == 1 else None

    def every(self, name: str) -> list[str]:
        """Every value of a field that may repeat (``scope``)."""
        return list(self._fields.get(name, ()))


def read_form(req: falcon.Request) -> OAuthForm:
    media_type = (req.content_type or "").partition(";")[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise InvalidRequest(f"send the token request form as {FORM_MEDIA_TYPE}")
    try:
        raw = read_body(req, MAX_FORM_BYTES)
    except BodyTooLarge:
        raise InvalidRequest(
            f"the token request form is larger than {MAX_FORM_BYTES} bytes"
        ) from None
    except BodyUnreadable:
        raise InvalidRequest("the token request form could not be read to its end") from None
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise InvalidRequest("the token request form is not UTF-8") from None
    except ValueError:
        raise InvalidRequest(
            f"the token request form has more than {MAX_FORM_FIELDS} fields"
        ) from None
    if any("\x00" in name or "\x00" in value for name, value in pairs):
        raise InvalidRequest("the token request form contains a NUL character")
    return OAuthForm(pairs)
