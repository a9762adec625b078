"""libdockit: registry token authentication as a library.

Parse scopes, resolve grants and sign tokens a Docker Distribution registry accepts, behind
backend protocols you can implement yourself. No web framework, no environment reading.
"""

from __future__ import annotations

from .admin import AdminService
from .assembly import Dockit, Instruments, Options, assemble
from .audit import Actor, Auditor, RequestInfo, Retention, TokenVia
from .backends.base import (
    AuditStore,
    Authenticator,
    GrantStore,
    GroupSource,
    HealthCheck,
    KeyMaterialStore,
    KeyStore,
    RefreshTokenStore,
    UserStore,
)
from .backends.chain import ChainAuthenticator
from .backends.credential_store import AccessCredentialStore
from .backends.ldap.backend import LdapAuthenticator
from .backends.ldap.config import GroupSearch, LdapConfig, UserMatcher, UserSearch
from .backends.local import LocalAuthenticator
from .backends.memory.backend import MemoryBackend
from .backends.trust_store import TrustPolicyStore
from .credential_admin import CredentialAdmin, CredentialLimits
from .credential_login import AccessCredentialExchange
from .delegation import (
    CredentialRefused,
    CredentialUnavailable,
    DelegatedLoginDenied,
    Delegation,
)
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
    UnsupportedGrantType,
    ValidationError,
)
from .explain import Explanation
from .keys.crypt import KeyDecryptionError, KeyProtector
from .keys.files import KeyFiles
from .keys.manager import KeyManager
from .keys.material import SigningKey, generate_key, load_key
from .keys.ring import KeyRing, ensure_active_key
from .login import CredentialExchange, Login, Logins
from .model import (
    AccessCredential,
    AuditEvent,
    Grant,
    Group,
    Identity,
    Page,
    RefreshToken,
    StoredKey,
    User,
)
from .passwords import HashParameters, PasswordHasher
from .patterns import compile_pattern
from .policy import Decision, ScopeDecision, decide
from .refresh import IdentityResolver, LocalIdentityResolver, RefreshTokens
from .scope import ResourceScope, format_scopes, parse_scopes
from .secret import Secret
from .service import TokenService
from .token_request import TokenOutcome, TokenRequest
from .tokens import IssuedToken, TokenSigner

__all__ = [
    "AccessCredential",
    "AccessCredentialExchange",
    "AccessCredentialStore",
    "Actor",
    "AdminService",
    "AuditEvent",
    "AuditStore",
    "Auditor",
    "AuthenticationFailed",
    "Authenticator",
    "BackendUnavailable",
    "ChainAuthenticator",
    "ConfigError",
    "Conflict",
    "CredentialAdmin",
    "CredentialExchange",
    "CredentialLimits",
    "CredentialRefused",
    "CredentialUnavailable",
    "Decision",
    "DelegatedLoginDenied",
    "Delegation",
    "Dockit",
    "DockitError",
    "Explanation",
    "Grant",
    "GrantStore",
    "Group",
    "GroupSearch",
    "GroupSource",
    "HashParameters",
    "HealthCheck",
    "Identity",
    "IdentityResolver",
    "Instruments",
    "InvalidRequest",
    "IssuedToken",
    "KeyDecryptionError",
    "KeyFiles",
    "KeyManager",
    "KeyMaterialError",
    "KeyMaterialStore",
    "KeyProtector",
    "KeyRing",
    "KeyStore",
    "LdapAuthenticator",
    "LdapConfig",
    "LocalAuthenticator",
    "LocalIdentityResolver",
    "Login",
    "Logins",
    "MemoryBackend",
    "NotFound",
    "Options",
    "Page",
    "PasswordHasher",
    "PermissionDenied",
    "RefreshToken",
    "RefreshTokenStore",
    "RefreshTokens",
    "RequestInfo",
    "ResourceScope",
    "Retention",
    "ScopeDecision",
    "ScopeError",
    "Secret",
    "SigningKey",
    "StoredKey",
    "TokenOutcome",
    "TokenRequest",
    "TokenService",
    "TokenSigner",
    "TokenVia",
    "TrustPolicyStore",
    "UnknownService",
    "UnsupportedGrantType",
    "User",
    "UserMatcher",
    "UserSearch",
    "UserStore",
    "ValidationError",
    "assemble",
    "compile_pattern",
    "decide",
    "ensure_active_key",
    "format_scopes",
    "generate_key",
    "load_key",
    "parse_scopes",
]
