"""The Admin API's request bodies, each declared once.

A declaration is a :class:`msgspec.Struct`: its fields, their JSON types, which are required
and their defaults. :func:`.bodies.read_body_as` validates a body against it (unknown fields
refused, types strict: ``1`` is no boolean, ``null`` no string) and the OpenAPI document's
request schemas are generated from it (:mod:`.openapi_schemas`), so the two cannot drift.

Rules about values (a name's characters, a password's policy, a grant's actions, a key's
algorithm and lifetime) belong to libdockit, which enforces them with messages that name
the field; a declaration only documents them (``extra_json_schema``, from the library's own
constants), so each rule is written once and checked in one place.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from libdockit.credential_admin import MAX_ACCESS_TOKEN_LIFETIME
from libdockit.keys.manager import ALGORITHMS, MAX_VALIDITY_DAYS
from libdockit.model import MAX_NAME_LENGTH
from libdockit.passwords import MAX_PASSWORD_LENGTH
from libdockit.scope import KNOWN_ACTIONS, MAX_RESOURCE_TYPE_LENGTH
from libdockit.secret import Secret

T = TypeVar("T")

NAME_RULE = (
    f"1-{MAX_NAME_LENGTH} characters of a-z, 0-9, '.', '_', '@' or '-', starting and ending "
    "with a letter or digit. Sent names are normalised first (Unicode NFKC, lower case), so "
    "`Alice` names the account `alice`."
)
SUBJECT_RULE = (
    "`user:NAME`, `group:NAME`, `robot:NAME` (a robot account), `authenticated` (any "
    "logged-in user) or `anonymous` (everyone)."
)

#: A user or group name as sent: the library normalises and checks it.
SentName = Annotated[str, Meta(description=NAME_RULE)]
#: A password: decoded straight into a :class:`~libdockit.secret.Secret` (repr ``***``).
Password = Annotated[
    Secret,
    Meta(
        description="Never returned or logged. No NUL characters.",
        extra_json_schema={"minLength": 1, "maxLength": MAX_PASSWORD_LENGTH, "writeOnly": True},
    ),
]
Subject = Annotated[
    str,
    Meta(description=SUBJECT_RULE, examples=["group:team", "user:alice", "authenticated"]),
]
Action = Annotated[str, Meta(extra_json_schema={"enum": list(KNOWN_ACTIONS)})]
AllowUnknownType = Annotated[
    bool,
    Meta(
        description="Registries ask only for `repository` and `registry`; any other type is "
        "refused as a likely typo unless this is true (for a service with types of its own)."
    ),
]


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request body: a JSON object whose unknown fields are refused."""

    #: At least this many fields must be sent (for bodies whose fields are all optional).
    min_fields: ClassVar[int] = 0
    #: Added to the generated schema as it is (descriptions of rules across fields).
    schema_extra: ClassVar[dict[str, object]] = {}


def given(value: T | UnsetType) -> T | None:
    """An optional field's value, or None when it was not sent."""
    return None if isinstance(value, UnsetType) else value


class UserCreate(Body):
    username: SentName
    password: Password
    admin: bool = False
    enabled: bool = True


class UserUpdate(Body):
    enabled: bool | UnsetType = UNSET
    admin: bool | UnsetType = UNSET

    min_fields = 1
    schema_extra = {
        "description": "At least one field. An admin cannot disable or demote themselves."
    }


class PasswordSet(Body):
    password: Password


class GroupCreate(Body):
    name: SentName
    enabled: bool = True


class GroupUpdate(Body):
    enabled: bool


class KeyCreate(Body):
    algorithm: Annotated[str, Meta(extra_json_schema={"enum": list(ALGORITHMS)})] = "ES256"
    validity_days: Annotated[
        int, Meta(extra_json_schema={"minimum": 1, "maximum": MAX_VALIDITY_DAYS})
    ] = 365


class GrantParts(Body):
    subject: Subject
    resource_type: Annotated[
        str,
        Meta(
            examples=["repository", "registry"],
            extra_json_schema={"maxLength": MAX_RESOURCE_TYPE_LENGTH},
        ),
    ]
    pattern: Annotated[
        str,
        Meta(
            description="A resource name in which `*` matches within one path segment, `**` "
            "matches across segments and `${user}` is the caller's username.",
            examples=["team/*", "team/**", "users/${user}/*"],
        ),
    ]
    actions: Annotated[
        list[Action],
        Meta(
            description="`push` implies `pull`; `*` is every action.",
            extra_json_schema={"minItems": 1},
        ),
    ]
    allow_unknown_type: AllowUnknownType = False


class GrantScope(Body):
    subject: Subject
    scope: Annotated[
        str,
        Meta(
            description="`resource_type:pattern:actions`; the pattern may contain `:` "
            "(e.g. `host:5000/team/*`).",
            examples=["repository:team/*:pull,push"],
        ),
    ]
    allow_unknown_type: AllowUnknownType = False


ExpiresAt = Annotated[
    str,
    Meta(
        description="When it stops working: RFC 3339 with a time zone. Give this, "
        "`expires_in` or `never` (where allowed); at most the longest an admin allows.",
        examples=["2026-12-31T00:00:00Z"],
        extra_json_schema={"format": "date-time"},
    ),
]
ExpiresIn = Annotated[
    int,
    Meta(ge=1, description="When it stops working, in seconds from now (instead of expires_at)."),
]
Never = Annotated[
    bool,
    Meta(
        description="true: it never expires; refused (400) unless the admin setting allows it "
        "(`robots.max_expiry_days` / `tokens.max_expiry_days` set to 0)."
    ),
]
AccessTokenLifetime = Annotated[
    int,
    Meta(
        ge=1,
        le=int(MAX_ACCESS_TOKEN_LIFETIME.total_seconds()),
        description="Seconds the access tokens it gets live (for long pushes); default: the "
        "server's token lifetime. At most `token.max_credential_lifetime` (400 beyond).",
    ),
]
CredentialScope = Annotated[
    str,
    Meta(
        description="`TYPE:PATTERN:ACTIONS`: the token can do no more than this, and never "
        "more than its owner can.",
        examples=["repository:alice/**:pull", "repository:team/app:pull,push"],
    ),
]


class RobotCreate(Body):
    name: SentName
    owner: Annotated[
        str,
        Meta(
            description="Who answers for it: `user:NAME` or `group:NAME`.",
            examples=["group:ci", "user:alice"],
        ),
    ]
    expires_at: ExpiresAt | UnsetType = UNSET
    expires_in: ExpiresIn | UnsetType = UNSET
    never: Never = False
    access_token_lifetime: AccessTokenLifetime | UnsetType = UNSET

    schema_extra = {
        "description": "A robot needs an expiry: `expires_at`, `expires_in` or `never`. Its "
        "name may not be a local user's."
    }


class RobotUpdate(Body):
    enabled: bool


class SecretRotate(Body):
    expires_at: ExpiresAt | UnsetType = UNSET
    expires_in: ExpiresIn | UnsetType = UNSET
    never: Never = False

    schema_extra = {
        "description": "Optional: without a body (or with `{}`), the expiry stays as it is."
    }


class TokenCreate(Body):
    name: Annotated[
        str,
        Meta(
            description="A label for it (1-64 printable characters), e.g. where it is used.",
            min_length=1,
            max_length=MAX_NAME_LENGTH,
            examples=["laptop", "github-actions"],
        ),
    ]
    scopes: list[CredentialScope] = []
    expires_at: ExpiresAt | UnsetType = UNSET
    expires_in: ExpiresIn | UnsetType = UNSET
    never: Never = False
    access_token_lifetime: AccessTokenLifetime | UnsetType = UNSET

    schema_extra = {
        "description": "Without an expiry, the token lives as long as an admin allows. "
        "Without scopes, it has all its owner's rights."
    }


#: Every request body, in the order the OpenAPI document lists them.
REQUEST_BODIES: tuple[type[Body], ...] = (
    UserCreate,
    UserUpdate,
    PasswordSet,
    GroupCreate,
    GroupUpdate,
    KeyCreate,
    GrantParts,
    GrantScope,
    RobotCreate,
    RobotUpdate,
    SecretRotate,
    TokenCreate,
)
