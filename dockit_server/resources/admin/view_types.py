"""The Admin API's answers, each declared once.

A declaration is a :class:`~typing.TypedDict`: the view functions (:mod:`.views`,
``key_json``, ``event_json``, ...) return it, so mypy checks every key they write, and the
OpenAPI document's response schemas are generated from it (:mod:`.openapi_schemas`). An
answer carries exactly its declared keys (``additionalProperties: false``); a key that is
``NotRequired`` is left out of ``required``.

The class names are the schemas' names in the document (``User``, ``GrantList`` ...).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from msgspec import Meta

from libdockit.keys.manager import ALGORITHMS
from libdockit.model import AUDIT_KINDS
from libdockit.paging import MAX_PAGE_SIZE
from libdockit.scope import KNOWN_ACTIONS

from .body_types import Subject

Timestamp = Annotated[
    str | None,
    Meta(
        description="RFC 3339, UTC, second precision (e.g. `2024-05-01T12:00:00Z`).",
        extra_json_schema={"format": "date-time"},
    ),
]
StoredName = Annotated[str, Meta(pattern=r"^[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9])?$")]
Action = Annotated[str, Meta(extra_json_schema={"enum": list(KNOWN_ACTIONS)})]
Count = Annotated[int, Meta(ge=0)]


class Page(TypedDict):
    total: Annotated[int, Meta(ge=0, description="Items in all pages.")]
    offset: Count
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE_SIZE)]


class User(TypedDict):
    username: StoredName
    enabled: Annotated[bool, Meta(description="Disabled users cannot log in.")]
    admin: Annotated[bool, Meta(description="May use the Admin API.")]
    groups: Annotated[list[StoredName], Meta(description="Sorted.")]
    created_at: Timestamp
    updated_at: Timestamp


class UserList(Page):
    items: list[User]


class Group(TypedDict):
    name: StoredName
    enabled: Annotated[bool, Meta(description="Disabled groups grant nothing.")]
    members: Annotated[list[StoredName], Meta(description="Sorted.")]
    created_at: Timestamp


class GroupList(Page):
    items: list[Group]


class Grant(TypedDict):
    id: Annotated[int, Meta(ge=1)]
    subject: Subject
    resource_type: Annotated[str, Meta(pattern="^[a-z0-9]+$", max_length=64)]
    pattern: str
    actions: Annotated[list[Action], Meta(min_length=1)]
    scope: Annotated[
        str,
        Meta(
            description="`resource_type:pattern:actions`, as POST accepts it.",
            examples=["repository:team/*:pull,push"],
        ),
    ]
    created_at: Timestamp
    notes: NotRequired[
        Annotated[
            list[str],
            Meta(
                description="Only in POST's answer, when something was accepted on trust: a "
                "subject with no local user or group, taken to be the directory's (LDAP)."
            ),
        ]
    ]


class GrantList(Page):
    items: list[Grant]


class Key(TypedDict):
    kid: Annotated[str, Meta(description="libtrust key ID, as in token headers.")]
    algorithm: Annotated[str, Meta(extra_json_schema={"enum": list(ALGORITHMS)})]
    state: Annotated[
        Literal["pending", "active", "retired"],
        Meta(
            description="pending: published, not signing; active: signs; retired: published "
            "until the tokens it signed have expired."
        ),
    ]
    created_at: Timestamp
    activated_at: Timestamp
    retired_at: Timestamp
    not_after: Timestamp
    days_left: Annotated[float, Meta(description="Days until the certificate expires.")]


class KeyList(TypedDict):
    items: list[Key]


class AuditEvent(TypedDict):
    id: Annotated[int, Meta(ge=1)]
    at: Timestamp
    kind: Annotated[str, Meta(extra_json_schema={"enum": list(AUDIT_KINDS)})]
    actor: Annotated[
        str,
        Meta(description="`user:NAME`, `robot:NAME` (a robot's token request) or `anonymous`."),
    ]
    action: Annotated[
        str,
        Meta(
            description="e.g. `user.create`, `grant.delete`, `key.activate`, `token.issue`, "
            "`token.refuse`."
        ),
    ]
    target: str | None
    before: Annotated[dict[str, Any] | None, Meta(description="State before a change.")]
    after: Annotated[dict[str, Any] | None, Meta(description="State after a change.")]
    detail: Annotated[
        dict[str, Any] | None,
        Meta(
            description="Token decisions: service, requested and granted scopes, outcome and "
            "the error code of a refusal."
        ),
    ]
    client_address: str | None
    request_id: str | None


class AuditEventList(Page):
    items: list[AuditEvent]


class RefreshToken(TypedDict):
    """A refresh token (docker's identity token). Its value is shown once, to the client
    that logged in, and never stored: only its SHA-256 is."""

    id: Annotated[str, Meta(description="Public id, to revoke it by; not secret.")]
    username: StoredName
    service: Annotated[str, Meta(description="The registry service it is for.")]
    client_id: Annotated[
        str | None, Meta(description="The client that asked for it, e.g. `docker`.")
    ]
    created_at: Timestamp
    last_used_at: Annotated[
        str | None,
        Meta(
            description="When it last got a token (to the minute); null: never used.",
            extra_json_schema={"format": "date-time"},
        ),
    ]
    expires_at: Annotated[
        str | None,
        Meta(description="null: it does not expire.", extra_json_schema={"format": "date-time"}),
    ]
    source: Annotated[
        str,
        Meta(
            description="Whose user it is: `local` (a Dockit user) or `ldap` (a directory "
            "user, checked against the directory on every use).",
            examples=["local", "ldap"],
        ),
    ]


class RefreshTokenList(Page):
    items: list[RefreshToken]


class RefreshTokensRevoked(TypedDict):
    username: StoredName
    revoked: Annotated[int, Meta(ge=0, description="How many were revoked.")]


Secret = Annotated[
    str,
    Meta(
        description="The secret (`dkt_` and 43 characters): the password for `docker login`. "
        "Shown in this answer only, never again: Dockit keeps only its SHA-256.",
        pattern="^dkt_[A-Za-z0-9_-]{43}$",
    ),
]
NullableTime = Annotated[str | None, Meta(extra_json_schema={"format": "date-time"})]


class CredentialUse(TypedDict):
    created_at: Timestamp
    expires_at: Annotated[NullableTime, Meta(description="null: it never expires.")]
    enabled: Annotated[bool, Meta(description="Disabled: it gets 401 until enabled again.")]
    access_token_lifetime: Annotated[
        int | None,
        Meta(description="Seconds its access tokens live; null: the server's default."),
    ]
    last_used_at: Annotated[
        NullableTime, Meta(description="When it last got a token; null: never used.")
    ]
    last_used_from: Annotated[str | None, Meta(description="The client address of that last use.")]


class Robot(CredentialUse):
    """A robot account: a login name (`docker login -u NAME`) with its own grants (subject
    `robot:NAME`) and a secret as its password."""

    name: StoredName
    id: Annotated[str, Meta(description="Public id (as the audit log names it); not secret.")]
    owner: Annotated[str, Meta(description="`user:NAME` or `group:NAME`.")]
    owner_source: Annotated[
        str, Meta(description="`local`, or the directory vouching for the owner (`ldap`).")
    ]


class RobotList(Page):
    items: list[Robot]


class RobotWithSecret(Robot):
    secret: Secret


class PersonalAccessToken(CredentialUse):
    """A personal access token: its owner's rights (as they are at each use), narrowed to
    its scopes. Log in with the owner's name and the secret."""

    id: Annotated[str, Meta(description="Public id, to revoke it by; not secret.")]
    name: Annotated[str, Meta(description="The owner's label for it.")]
    owner: Annotated[str, Meta(description="`user:NAME`.")]
    owner_source: Annotated[
        str, Meta(description="`local`, or the directory the owner logs in through (`ldap`).")
    ]
    scopes: Annotated[
        list[str], Meta(description="`TYPE:PATTERN:ACTIONS`; empty: all the owner's rights.")
    ]


class PersonalAccessTokenList(Page):
    items: list[PersonalAccessToken]


class PersonalAccessTokenWithSecret(PersonalAccessToken):
    secret: Secret


class ExplainedAction(TypedDict):
    action: str
    granted: bool
    grants: Annotated[list[Grant], Meta(description="Every grant that gives this action.")]


class ExplainedScope(TypedDict):
    scope: str
    type: str
    name: str
    actions: list[ExplainedAction]


class Account(TypedDict):
    """The local account behind a user subject."""

    local: bool
    enabled: bool | None


class ExplainedCredential(TypedDict):
    """The robot or personal access token explained (never its secret)."""

    kind: Annotated[str, Meta(extra_json_schema={"enum": ["robot", "pat"]})]
    id: str
    name: str
    owner: str
    scopes: Annotated[list[str], Meta(description="A token's scopes; empty: not narrowed.")]
    enabled: bool
    expires_at: Annotated[NullableTime, Meta(description="null: it never expires.")]


class Explanation(TypedDict):
    subject: Subject
    groups: Annotated[
        list[StoredName], Meta(description="The enabled groups whose grants were considered.")
    ]
    account: Annotated[
        Account | None,
        Meta(description="The local account behind a user subject (null: anonymous)."),
    ]
    credential: Annotated[
        ExplainedCredential | None,
        Meta(
            description="The robot or personal access token explained (null: a user's or "
            "anonymous' request)."
        ),
    ]
    notes: list[str]
    scopes: list[ExplainedScope]


class ErrorEntry(TypedDict):
    code: Annotated[
        str,
        Meta(
            description="Stable; branch on it, not on the message.",
            examples=["INVALID_FIELD", "NOT_FOUND", "CONFLICT"],
        ),
    ]
    message: Annotated[str, Meta(description="What to do about it.")]
    detail: NotRequired[
        Annotated[
            Any,
            Meta(description='Structured detail, e.g. `{"field": "username"}` for INVALID_FIELD.'),
        ]
    ]


class Error(TypedDict):
    errors: Annotated[list[ErrorEntry], Meta(min_length=1)]


#: Every answer's declaration, in the order the OpenAPI document lists them.
ANSWERS: tuple[type, ...] = (
    User,
    UserList,
    Group,
    GroupList,
    Grant,
    GrantList,
    Key,
    KeyList,
    AuditEvent,
    AuditEventList,
    Explanation,
    RefreshToken,
    RefreshTokenList,
    RefreshTokensRevoked,
    Robot,
    RobotList,
    RobotWithSecret,
    PersonalAccessToken,
    PersonalAccessTokenList,
    PersonalAccessTokenWithSecret,
    Error,
)
