"""Parse HTTP Basic credentials into a username and a :class:`Secret`."""

from __future__ import annotations

import base64
import binascii

from libdockit.errors import AuthenticationFailed
from libdockit.secret import Secret

MAX_HEADER_LENGTH = 4096


def parse_basic(header: str | None) -> tuple[str, Secret] | None:
    """None when there is no Authorization header; AuthenticationFailed when it is not
    well-formed Basic credentials.

    The username may be empty: containerd sends an identity (refresh) token that way.
    Whoever checks the credentials refuses an empty username with a password.
    """
    if header is None:
        return None
    if len(header) > MAX_HEADER_LENGTH:
        raise AuthenticationFailed("the Authorization header is too long")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise AuthenticationFailed("only Basic credentials are accepted here")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AuthenticationFailed("the Basic credentials are not valid base64 UTF-8") from None
    username, colon, password = decoded.partition(":")
    if not colon or "\x00" in decoded:
        raise AuthenticationFailed("the Basic credentials are malformed")
    return username, Secret(password)
