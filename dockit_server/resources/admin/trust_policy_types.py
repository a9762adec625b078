"""The trust-policy requests and answers of the Admin API, each declared once (see
:mod:`.body_types` and :mod:`.view_types` for the rules these follow).

Values (an issuer's URL, an algorithm, a claim name, a grant template, the bounds of the
leeway and the lifetime) are checked by :func:`libdockit.federation.policy_from_document`;
the declarations only document them, from the library's constants.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, NotRequired, TypedDict

import msgspec
from msgspec import UNSET, Meta, UnsetType

from libdockit.federation import (
    ASYMMETRIC_ALGORITHMS,
    MAX_LEEWAY_SECONDS,
    MAX_TOKEN_LIFETIME_SECONDS,
    policy_document,
)
from libdockit.federation import TrustPolicy as TrustPolicyRecord

from .body_types import Action, Body, SentName
from .view_types import Page, StoredName

Issuer = Annotated[
    str,
    Meta(
        description="The tokens' `iss`: an https URL (plain http only to a loopback host). "
        "Its keys come from `<issuer>/.well-known/openid-configuration` unless `static_jwks`.",
        examples=["https://token.actions.githubusercontent.com"],
    ),
]
Audiences = Annotated[
    list[str],
    Meta(description="A token's `aud` must name one of these.", extra_json_schema={"minItems": 1}),
]
Algorithm = Annotated[str, Meta(extra_json_schema={"enum": sorted(ASYMMETRIC_ALGORITHMS)})]
Leeway = Annotated[
    int,
    Meta(
        description="Clock skew forgiven on `exp` and `nbf`, in seconds.",
        extra_json_schema={"minimum": 0, "maximum": MAX_LEEWAY_SECONDS},
    ),
]
StaticJwks = Annotated[
    dict[str, Any] | None,
    Meta(description='The issuer\'s keys, `{"keys": [...]}`, for sites that cannot fetch them.'),
]
Lifetime = Annotated[
    int,
    Meta(
        description="The longest access token a match gets, in seconds (never more than the "
        "server's `token.lifetime`, nor a `robot`'s own access-token lifetime).",
        extra_json_schema={"minimum": 1, "maximum": MAX_TOKEN_LIFETIME_SECONDS},
    ),
]
Robot = Annotated[
    str | None,
    Meta(
        description="Instead of `grants`: the name of an existing robot account. A match acts "
        "with that robot's grants as they are at each login (and the public ones); a robot "
        "that is disabled, expired, deleted or whose owner can no longer log in refuses every "
        "login (401).",
        examples=["ci-pusher"],
    ),
]
WHAT_A_MATCH_GETS = "Exactly one of `grants` (non-empty) and `robot`."


class ClaimCondition(msgspec.Struct, forbid_unknown_fields=True):
    claim: Annotated[
        str,
        Meta(
            description="A claim's name; `/` walks into an object.",
            examples=["repository", "kubernetes.io/namespace"],
        ),
    ]
    value: Annotated[
        str,
        Meta(
            description="The exact value, or a glob when it holds `*` (one path segment) or "
            "`**` (any).",
            examples=["acme/app", "refs/heads/*"],
        ),
    ]


class GrantTemplate(msgspec.Struct, forbid_unknown_fields=True):
    pattern: Annotated[
        str,
        Meta(
            description="A grant pattern on repositories; `${claim.NAME}` is filled with the "
            "claim's value (lower-cased; a value that is not a plain repository path drops "
            "the grant).",
            examples=["ci/${claim.repository}/**"],
        ),
    ]
    actions: Annotated[list[Action], Meta(extra_json_schema={"minItems": 1})]


class TrustPolicyUpdate(Body):
    """A whole trust policy but its name (``PUT`` replaces every field)."""

    schema_extra: ClassVar[dict[str, object]] = {"description": WHAT_A_MATCH_GETS}

    issuer: Issuer
    audiences: Audiences
    algorithms: list[Algorithm] = msgspec.field(default_factory=lambda: ["RS256", "ES256"])
    leeway_seconds: Leeway = 60
    static_jwks: StaticJwks = None
    conditions: list[ClaimCondition] = msgspec.field(default_factory=list)
    grants: list[GrantTemplate] = msgspec.field(default_factory=list)
    max_token_lifetime_seconds: Lifetime = 300
    robot: Robot = None


class TrustPolicyCreate(TrustPolicyUpdate, kw_only=True):
    name: SentName


class TrustPolicyExplain(Body):
    """The claims to explain, or a token (verified against the issuer's keys; its claims
    are explained either way)."""

    claims: dict[str, Any] | UnsetType = UNSET
    token: Annotated[str, Meta(extra_json_schema={"writeOnly": True})] | UnsetType = UNSET

    min_fields = 1
    schema_extra: ClassVar[dict[str, object]] = {
        "description": "Exactly one of `claims` and `token`."
    }


#: The request bodies, for the OpenAPI document.
TRUST_POLICY_BODIES: tuple[type[Body], ...] = (
    TrustPolicyCreate,
    TrustPolicyUpdate,
    TrustPolicyExplain,
)


class TrustPolicy(TypedDict):
    name: StoredName
    issuer: str
    audiences: list[str]
    algorithms: list[Algorithm]
    leeway_seconds: int
    static_jwks: dict[str, Any] | None
    conditions: list[ClaimCondition]
    grants: list[GrantTemplate]
    max_token_lifetime_seconds: int
    robot: Annotated[StoredName | None, Meta(description="The robot a match acts as, if any.")]


class TrustPolicyList(Page):
    items: list[TrustPolicy]


class ConditionOutcome(TypedDict):
    claim: str
    value: str
    glob: bool
    met: bool


class GrantOutcome(TypedDict):
    template: str
    actions: list[Action]
    pattern: Annotated[str | None, Meta(description="null: the claims cannot fill it.")]


class RobotGrant(TypedDict):
    subject: Annotated[str, Meta(examples=["robot:ci-pusher", "anonymous"])]
    resource_type: str
    pattern: str
    actions: list[str]


class RobotOutcome(TypedDict):
    name: StoredName
    usable: Annotated[bool, Meta(description="Whether the robot may act now.")]
    refusal: Annotated[str | None, Meta(description="Why not, when it may not.")]
    grants: Annotated[
        list[RobotGrant], Meta(description="The robot's grants and the public ones, now.")
    ]
    token_lifetime: Annotated[
        int | None, Meta(description="The robot's own access-token lifetime, if it has one.")
    ]


class FederatedExplanation(TypedDict):
    policy: StoredName
    matched: Annotated[
        bool,
        Meta(
            description="Every condition met (and the policy's robot usable): a login would pass."
        ),
    ]
    reasons: list[str]
    conditions: list[ConditionOutcome]
    grants: list[GrantOutcome]
    token_lifetime: int
    token: NotRequired[
        Annotated[
            dict[str, Any],
            Meta(
                description="Given a token: `verified`, and `reason` when it did not verify, "
                "or its `issuer`, `sub`, `jti` and `kid` when it did."
            ),
        ]
    ]
    robot: NotRequired[
        Annotated[
            RobotOutcome,
            Meta(description="For a policy that names a robot account: what it gives now."),
        ]
    ]


#: The answers, for the OpenAPI document.
TRUST_POLICY_ANSWERS: tuple[type, ...] = (
    TrustPolicy,
    TrustPolicyList,
    FederatedExplanation,
)


def trust_policy_json(policy: TrustPolicyRecord) -> dict[str, Any]:
    """The Admin API's view of a policy: its document."""
    return policy_document(policy)


def to_document(body: TrustPolicyUpdate, name: str) -> dict[str, Any]:
    """A decoded body as the library's policy document."""
    document: dict[str, Any] = msgspec.to_builtins(body)
    document.pop("name", None)
    return {"name": name, **document}
