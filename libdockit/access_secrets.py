"""Secrets of robot accounts and personal access tokens: made, recognised and hashed.

A secret is ``dkt_`` and 43 URL-safe base64 characters (256 random bits): the prefix lets
secret scanners find leaked ones and lets a login tell such a secret from a password
without a lookup. Only its SHA-256 is stored; with 256 random bits, guessing is hopeless
and a slow hash (argon2) would only slow every token request down.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from .secret import Secret

CREDENTIAL_PREFIX = "dkt_"
_RANDOM_BYTES = 32
_SECRET_RE = re.compile(re.escape(CREDENTIAL_PREFIX) + r"[A-Za-z0-9_-]{43}")
_ID_BYTES = 9


def new_credential_secret() -> Secret:
    """A fresh secret, to be shown once and never stored."""
    return Secret(CREDENTIAL_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES))


def new_credential_id() -> str:
    """A fresh public id (12 URL-safe characters); says nothing about the secret. Never
    one that starts with ``-``, which a command line would read as an option."""
    while True:
        made = secrets.token_urlsafe(_ID_BYTES)
        if not made.startswith("-"):
            return made


def looks_like_credential_secret(candidate: Secret) -> bool:
    """Whether ``candidate`` has the shape of a secret made by :func:`new_credential_secret`."""
    return _SECRET_RE.fullmatch(candidate.reveal()) is not None


def credential_secret_hash(secret: Secret) -> str:
    """The hex SHA-256 a store keeps and looks the secret up by."""
    return hashlib.sha256(secret.reveal().encode("utf-8")).hexdigest()
