"""Every error libdockit raises derives from :class:`DockitError`.

Tree::

    DockitError
    ├── InvalidRequest            the caller asked for something malformed (HTTP 400)
    │   ├── ScopeError            a scope string breaks the grammar or a cap
    │   ├── UnknownService        the token was asked for a service not on the allow-list
    │   ├── UnsupportedGrantType  an OAuth2 token request with a grant_type Dockit does not serve
    │   └── ValidationError       an admin write with a bad field (names the field)
    ├── AuthenticationFailed      bad or missing credentials (HTTP 401)
    ├── TooManyAttempts           too many failed logins: wait ``retry_after`` s (HTTP 429)
    ├── PermissionDenied          authenticated but not allowed, e.g. not an admin (HTTP 403)
    ├── NotFound                  the named user, group, grant or key does not exist (HTTP 404)
    ├── Conflict                  it exists already or the change clashes with state (HTTP 409)
    ├── BackendUnavailable        a store or directory cannot answer now (HTTP 503)
    ├── KeyMaterialError          a key or certificate cannot be loaded or used (HTTP 503)
    │   └── KeyDecryptionError    a stored key is encrypted and the secret is missing or
    │                             wrong (defined in libdockit.keys.crypt)
    └── ConfigError               a setting is wrong; names the dotted key

Each class carries a stable upper-case ``code`` that HTTP layers put into error bodies, so
clients can branch on it without parsing messages, and the ``http_status`` they answer with
(500 where the tree names none), which the audit log of token decisions records too.
"""

from __future__ import annotations


class DockitError(Exception):
    """Root of every error raised by libdockit."""

    code = "INTERNAL"
    http_status = 500

    def __init__(self, message: str, *, detail: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidRequest(DockitError):
    code = "INVALID_REQUEST"
    http_status = 400


class ScopeError(InvalidRequest):
    code = "SCOPE_INVALID"


class UnknownService(InvalidRequest):
    code = "SERVICE_UNKNOWN"


class UnsupportedGrantType(InvalidRequest):
    """``POST /v2/token`` with a ``grant_type`` other than ``password`` or ``refresh_token``."""

    code = "UNSUPPORTED"


class ValidationError(InvalidRequest):
    """A field of an admin request is invalid; ``field`` names it."""

    code = "INVALID_FIELD"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", detail={"field": field})
        self.field = field


class AuthenticationFailed(DockitError):
    code = "UNAUTHORIZED"
    http_status = 401


class TooManyAttempts(DockitError):
    """Logins are refused for a while after too many failures (see :mod:`libdockit.throttle`).

    ``retry_after`` is the whole number of seconds to wait (at least 1). The code is
    distribution's own ``TOOMANYREQUESTS``.
    """

    code = "TOOMANYREQUESTS"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class PermissionDenied(DockitError):
    code = "DENIED"
    http_status = 403


class NotFound(DockitError):
    code = "NOT_FOUND"
    http_status = 404


class Conflict(DockitError):
    code = "CONFLICT"
    http_status = 409


class BackendUnavailable(DockitError):
    """A backend could not answer; the caller must not treat this as "no"."""

    code = "UNAVAILABLE"
    http_status = 503


class KeyMaterialError(DockitError):
    """No usable signing key (none active, or its certificate expired): cannot answer now."""

    code = "KEY_INVALID"
    http_status = 503


class ConfigError(DockitError):
    """A setting is invalid; ``key`` is its dotted name (e.g. ``token.lifetime``)."""

    code = "CONFIG_INVALID"

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}", detail={"key": key})
        self.key = key
