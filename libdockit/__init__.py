"""libdockit: registry token authentication as a library.

Parse scopes, resolve grants and sign tokens a Docker Distribution registry accepts, behind
backend protocols you can implement yourself. No web framework, no environment reading.
"""

from __future__ import annotations

from .admin import AdminService
from .backends.base import (
    Authenticator,
    GrantStore,
    GroupSource,
    HealthCheck,
    KeyStore,
    StoredKey,
    UserStore,
)
from .backends.local import LocalAuthenticator
from .backends.memory import MemoryBackend
from .errors import (
    AuthenticationFailed,
    BackendUnavailable,
    ConfigError,
    Conflict,
    DockitError,
    InvalidRequest,
    KeyMaterialError,
    NotFound,
    PermissionDenied,
    ScopeError,
    UnknownService,
    ValidationError,
)
from .keyring import KeyRing, ensure_active_key
from .keys import SigningKey, generate_key, load_key
from .model import Grant, Group, Identity, Page, User
from .passwords import HashParameters, PasswordHasher
from .patterns import compile_pattern
from .policy import Decision, ScopeDecision, decide
from .scope import ResourceScope, format_scopes, parse_scopes
from .secret import Secret
from .service import TokenResult, TokenService
from .tokens import IssuedToken, TokenSigner

__all__ = [
    "AdminService",
    "AuthenticationFailed",
    "Authenticator",
    "BackendUnavailable",
    "ConfigError",
    "Conflict",
    "Decision",
    "DockitError",
    "Grant",
    "GrantStore",
    "Group",
    "GroupSource",
    "HashParameters",
    "HealthCheck",
    "Identity",
    "InvalidRequest",
    "IssuedToken",
    "KeyMaterialError",
    "KeyRing",
    "KeyStore",
    "LocalAuthenticator",
    "MemoryBackend",
    "NotFound",
    "Page",
    "PasswordHasher",
    "PermissionDenied",
    "ResourceScope",
    "ScopeDecision",
    "ScopeError",
    "Secret",
    "SigningKey",
    "StoredKey",
    "TokenResult",
    "TokenService",
    "TokenSigner",
    "UnknownService",
    "User",
    "UserStore",
    "ValidationError",
    "compile_pattern",
    "decide",
    "ensure_active_key",
    "format_scopes",
    "generate_key",
    "load_key",
    "parse_scopes",
]
