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
    ├── NotFound                  the named user, group, grant or key does not exist (404)
    ├── Conflict                  it exists already or the change clashes with state (409)
    ├── BackendUnavailable        a store or directory cannot answer now (HTTP 503)
    ├── KeyMaterialError          a key or certificate cannot be loaded or used
    │   └── KeyDecryptionError    a stored key is encrypted and the secret is missing or
    │                             wrong (defined in libdockit.keycrypt)
    └── ConfigError               a setting is wrong; names the dotted key

Each class carries a stable upper-case ``code`` that HTTP layers put into error bodies, so
clients can branch on it without parsing messages.
"""

from __future__ import annotations


class DockitError(Exception):
    """Root of every error raised by libdockit."""

    code = "INTERNAL"

    def __init__(self, message: str, *, detail: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidRequest(DockitError):
    code = "INVALID_REQUEST"


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


class TooManyAttempts(DockitError):
    """Logins are refused for a while after too many failures (see :mod:`libdockit.throttle`).

    ``retry_after`` is the whole number of seconds to wait (at least 1). The code is
    distribution's own ``TOOMANYREQUESTS``.
    """

    code = "TOOMANYREQUESTS"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class PermissionDenied(DockitError):
    code = "DENIED"


class NotFound(DockitError):
    code = "NOT_FOUND"


class Conflict(DockitError):
    code = "CONFLICT"


class BackendUnavailable(DockitError):
    """A backend could not answer; the caller must not treat this as "no"."""

    code = "UNAVAILABLE"


class KeyMaterialError(DockitError):
    code = "KEY_INVALID"


class ConfigError(DockitError):
    """A setting is invalid; ``key`` is its dotted name (e.g. ``token.lifetime``)."""

    code = "CONFIG_INVALID"

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}", detail={"key": key})
        self.key = key
