"""The Admin API's OpenAPI 3.1 document, served at ``GET /api/v1/openapi.json``.

Every route :func:`~dockit_server.resources.admin.register_admin_routes` adds is described
here; ``tests/server/test_openapi.py`` walks the app's router and fails if the two differ.
"""

from __future__ import annotations

from typing import Any

from libdockit.model import AUDIT_FILTERS

from .openapi_credentials import credential_paths
from .openapi_operations import BODY_ERRORS, LOCATION, NO_CONTENT, ok, op, params
from .openapi_schemas import PARAMETERS, RESPONSES, SCHEMAS, audit_parameter
from .openapi_trust_policies import trust_policy_paths
from .views import API_PREFIX

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"

_RELATIVE_PATHS: dict[str, dict[str, Any]] = {
    "/users": {
        "get": op(
            "listUsers",
            "List users",
            "users",
            {"200": ok("A page of users, by name.", "UserList")},
        ),
        "post": op(
            "createUser",
            "Create a user",
            "users",
            {"201": ok("The new user.", "User", headers=LOCATION)},
            errors=("409",),
            body="UserCreate",
        ),
    },
    "/users/{username}": {
        "parameters": params("username"),
        "get": op(
            "getUser", "Get a user", "users", {"200": ok("The user.", "User")}, errors=("404",)
        ),
        "patch": op(
            "updateUser",
            "Enable, disable, promote or demote a user",
            "users",
            {"200": ok("The updated user.", "User")},
            errors=("404", "409"),
            body="UserUpdate",
            description="An admin cannot disable or demote themselves (409). Disabling a "
            "user revokes every refresh token they hold.",
        ),
        "delete": op(
            "deleteUser",
            "Delete a user, their memberships, grants and refresh tokens",
            "users",
            NO_CONTENT,
            errors=("404", "409"),
            description="An admin cannot delete themselves (409).",
        ),
    },
    "/users/{username}/password": {
        "parameters": params("username"),
        "put": op(
            "setUserPassword",
            "Set a user's password",
            "users",
            NO_CONTENT,
            errors=("404",),
            body="PasswordSet",
            description="Revokes every refresh token the user holds.",
        ),
    },
    "/users/{username}/refresh-tokens": {
        "parameters": params("username"),
        "get": op(
            "listUserRefreshTokens",
            "List a user's refresh tokens",
            "tokens",
            {"200": ok("A page of the user's refresh tokens, newest first.", "RefreshTokenList")},
            errors=("404",),
            description="What `docker login` stored as identity tokens; never their values.",
        ),
        "delete": op(
            "revokeUserRefreshTokens",
            "Revoke every refresh token of a user",
            "tokens",
            {"200": ok("How many were revoked.", "RefreshTokensRevoked")},
            errors=("404",),
        ),
    },
    "/refresh-tokens/{token_id}": {
        "parameters": params("tokenId"),
        "delete": op(
            "revokeRefreshToken",
            "Revoke one refresh token",
            "tokens",
            NO_CONTENT,
            errors=("404",),
        ),
    },
    "/groups": {
        "get": op(
            "listGroups",
            "List groups",
            "groups",
            {"200": ok("A page of groups, by name.", "GroupList")},
        ),
        "post": op(
            "createGroup",
            "Create a group",
            "groups",
            {"201": ok("The new group.", "Group", headers=LOCATION)},
            errors=("409",),
            body="GroupCreate",
        ),
    },
    "/groups/{name}": {
        "parameters": params("groupName"),
        "get": op(
            "getGroup",
            "Get a group",
            "groups",
            {"200": ok("The group.", "Group")},
            errors=("404",),
        ),
        "patch": op(
            "updateGroup",
            "Enable or disable a group",
            "groups",
            {"200": ok("The updated group.", "Group")},
            errors=("404",),
            body="GroupUpdate",
        ),
        "delete": op(
            "deleteGroup",
            "Delete a group, its memberships and its grants",
            "groups",
            NO_CONTENT,
            errors=("404",),
        ),
    },
    "/groups/{name}/members/{username}": {
        "parameters": params("groupName", "username"),
        "put": op(
            "addGroupMember",
            "Add a user to a group (idempotent)",
            "groups",
            {"200": ok("The group with its members.", "Group")},
            errors=("404",),
        ),
        "delete": op(
            "removeGroupMember",
            "Remove a user from a group",
            "groups",
            {"200": ok("The group with its members.", "Group")},
            errors=("404",),
            description="404 when the group or user does not exist or is not a member.",
        ),
    },
    "/grants": {
        "get": op(
            "listGrants",
            "List grants",
            "grants",
            {"200": ok("A page of grants, by id.", "GrantList")},
            description="`?subject=` keeps only that subject's grants.",
        ),
        "post": op(
            "createGrant",
            "Add a grant",
            "grants",
            {"201": ok("The new grant.", "Grant", headers=LOCATION)},
            errors=("409",),
            body="GrantCreate",
            description="Send either the parts or one `scope` string. A second grant for "
            "the same subject, resource type and pattern is a 409 whose `detail.id` names "
            "the existing one.",
        ),
    },
    "/grants/{grant_id}": {
        "parameters": params("grantId"),
        "get": op(
            "getGrant",
            "Get a grant",
            "grants",
            {"200": ok("The grant.", "Grant")},
            errors=("404",),
        ),
        "delete": op("deleteGrant", "Delete a grant", "grants", NO_CONTENT, errors=("404",)),
    },
    "/explain": {
        "get": op(
            "explain",
            "Explain a decision",
            "grants",
            {
                "200": ok(
                    "For every requested action: granted or not, and by which grants.",
                    "Explanation",
                )
            },
            description="Answers what `/v2/token` would grant the user (or an anonymous "
            "caller, a robot account, a personal access token) for these scopes, from the "
            "same policy, without their password. At most one of `user`, `robot` and "
            "`pat`; 404 for a robot or token that does not exist.",
            errors=("404",),
        )
        | {"parameters": params("user", "explainRobot", "explainPat", "scope")},
    },
    "/audit": {
        "get": op(
            "listAuditEvents",
            "Read the audit log",
            "audit",
            {"200": ok("A page of events, newest first.", "AuditEventList")},
            errors=("404",),
            description="Admin changes (who, what, before and after) and token decisions "
            "(who, service, requested and granted). 404 when the audit log is turned off.",
        )
        | {
            "parameters": params(
                *(audit_parameter(field.name) for field in AUDIT_FILTERS), "offset", "limit"
            )
        },
    },
    "/keys": {
        "get": op(
            "listKeys",
            "List signing keys",
            "keys",
            {"200": ok("Every stored key, oldest first.", "KeyList")},
        ),
        "post": op(
            "createKey",
            "Create a pending key",
            "keys",
            {"201": ok("The new key, pending.", "Key", headers=LOCATION)},
            body="KeyCreate",
            description="The key is published in the bundle at once but does not sign until "
            "activated: restart registries with the new bundle first.",
        ),
    },
    "/keys/{kid}": {
        "parameters": params("kid"),
        "get": op("getKey", "Get a key", "keys", {"200": ok("The key.", "Key")}, errors=("404",)),
    },
    "/keys/{kid}/activate": {
        "parameters": params("kid"),
        "post": op(
            "activateKey",
            "Make a key the signing key",
            "keys",
            {"200": ok("The key, now active.", "Key")},
            errors=("404", "409"),
            description="The previous active key is retired in the same transaction. 409 when "
            "the key's certificate has expired.",
        ),
    },
    "/keys/{kid}/retire": {
        "parameters": params("kid"),
        "post": op(
            "retireKey",
            "Retire a key",
            "keys",
            {"200": ok("The key, now retired.", "Key")},
            errors=("404", "409"),
            description="409 for the active key: activate its successor instead.",
        ),
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApiDocument",
            "summary": "This document",
            "tags": ["meta"],
            "security": [],
            "responses": {"200": ok("The OpenAPI document.", "OpenApiDocument")},
        }
    },
}

_RELATIVE_PATHS.update(trust_policy_paths())
_RELATIVE_PATHS.update(credential_paths())

_LISTS = {
    "/users": (),
    "/users/{username}/refresh-tokens": (),
    "/groups": (),
    "/grants": ("subject",),
    "/trust-policies": (),
    "/users/{username}/tokens": (),
    "/tokens": (),
    "/robots": ("owner",),
}
for _path, _filters in _LISTS.items():
    _RELATIVE_PATHS[_path]["get"]["parameters"] = params(*_filters, "offset", "limit")

# Every write answers 415 to a non-JSON Content-Type, with a body or without (cross_site.py).
for _item in _RELATIVE_PATHS.values():
    for _method, _operation in _item.items():
        if _method in ("post", "put", "patch", "delete"):
            _operation["responses"].setdefault("415", BODY_ERRORS["415"])
            _operation["responses"] = dict(sorted(_operation["responses"].items()))

#: Full paths, ``/api/v1/...``, so they read as the URLs clients call.
PATHS = {API_PREFIX + path: item for path, item in _RELATIVE_PATHS.items()}

OPENAPI_DOCUMENT: dict[str, Any] = {
    "openapi": OPENAPI_VERSION,
    "info": {
        "title": "Dockit Admin API",
        "version": API_VERSION,
        "description": "Manage Dockit's local users, groups, grants, robot accounts and "
        "personal access tokens. Every operation but this document's and `/tokens` (a "
        "user's own personal access tokens) needs HTTP Basic credentials of an enabled user "
        "with the admin flag. Bodies are JSON objects; unknown fields are refused. Errors use the "
        "registry's error body with a stable `code`.",
    },
    "security": [{"basicAuth": []}],
    "tags": [
        {"name": "users", "description": "Local user accounts."},
        {"name": "groups", "description": "Groups and their members."},
        {"name": "grants", "description": "Who may do what on which resources."},
        {"name": "keys", "description": "Signing keys and their rotation."},
        {
            "name": "tokens",
            "description": "Refresh tokens (docker's identity tokens) and personal access tokens.",
        },
        {"name": "robots", "description": "Robot accounts: named credentials for CI."},
        {"name": "audit", "description": "Admin changes and token decisions."},
        {
            "name": "federation",
            "description": "Trust policies: external OIDC issuers (CI jobs, Kubernetes) "
            "whose tokens log in as a policy's name.",
        },
        {"name": "meta", "description": "About the API itself."},
    ],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "basicAuth": {
                "type": "http",
                "scheme": "basic",
                "description": "An enabled user with the admin flag (for `/tokens`: any "
                "enabled user). The password may be one of their refresh tokens (what "
                "`docker login` stores as `identitytoken`), "
                "with their name or `<token>` as the username.",
            }
        },
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "parameters": PARAMETERS,
    },
}
