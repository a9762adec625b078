"""Trust policies that name a robot account (libdockit.federation.robots) through the whole
token path, as ``libdockit.assemble`` wires them, on the memory store, a SQLite file and a
real PostgreSQL: a matching token acts with the robot's grants as they are at each login,
is refused (401) whenever the robot may not act, and is still named as the federated login
it is; the Admin API's library side refuses a policy naming a missing robot and explains
what the robot gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from libdockit import Options, assemble
from libdockit.access_credentials import new_access_credential
from libdockit.assembly import Dockit
from libdockit.audit import Actor
from libdockit.delegation import CredentialRefused
from libdockit.errors import AuthenticationFailed, ValidationError
from libdockit.federation import (
    ClaimCondition,
    Federation,
    FederationExchange,
    GrantTemplate,
    TrustPolicy,
)
from libdockit.federation.admin import TrustPolicyAdmin
from libdockit.keys.ring import ensure_active_key
from libdockit.model import AccessCredential, Grant
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.token_request import TokenOutcome, TokenRequest
from tests.support.stores import STORE_KINDS, Backend, fresh_store
from tests.support.verifier import verify_token

ISSUER = "dockit-test"
OIDC_ISSUER = "https://token.actions.githubusercontent.com"
SERVICE = "registry.test"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
KEY = ec.generate_private_key(ec.SECP256R1())
JWKS = {"keys": [{**ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": "k1"}]}
ADMIN = Actor.user("root")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def policy(**changes: Any) -> TrustPolicy:
    fields: dict[str, Any] = {
        "name": "gh",
        "issuer": OIDC_ISSUER,
        "audiences": ["dockit"],
        "algorithms": ["ES256"],
        "static_jwks": JWKS,
        "conditions": [ClaimCondition("repository", "acme/app")],
        "robot": "ci",
        "max_token_lifetime_seconds": 600,
        **changes,
    }
    return TrustPolicy(**fields)


def oidc_token(clock: Clock, **changes: Any) -> str:
    body = {
        "iss": OIDC_ISSUER,
        "aud": "dockit",
        "sub": "repo:acme/app:ref:refs/heads/main",
        "repository": "acme/app",
        "jti": "run-1",
        "iat": int(clock.now.timestamp()),
        "exp": int((clock.now + timedelta(minutes=5)).timestamp()),
        **changes,
    }
    return jwt.encode(body, KEY, algorithm="ES256", headers={"kid": "k1"})


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with fresh_store(request.param, request, tmp_path) as backend:
        backend.create_user("alice", PasswordHasher().hash(Secret("alice-password-1")))
        backend.create_user("gh", PasswordHasher().hash(Secret("gh-user-password-1")))
        backend.create_group("builders")
        backend.add_grant(Grant("user:alice", "repository", "alice/**", ("push",)))
        backend.add_grant(Grant("user:gh", "repository", "gh-user/**", ("push",)))
        backend.add_grant(Grant("robot:ci", "repository", "ci/**", ("push",)))
        backend.add_grant(Grant("authenticated", "repository", "shared/*", ("pull",)))
        backend.add_grant(Grant("anonymous", "repository", "public/*", ("pull",)))
        yield backend


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dockit(store: Backend, clock: Clock) -> Iterator[Dockit]:
    options = Options(
        issuer=ISSUER,
        services=[SERVICE],
        token_lifetime=900,
        max_credential_token_lifetime=3600,
        clock=clock,
    )
    ensure_active_key(store, now=T0 - timedelta(minutes=1))
    built = assemble(store, options)
    yield built
    if built.auditor is not None:
        built.auditor.close()


def add_robot(
    store: Backend, owner: str = "user:alice", *, lifetime: int | None = None
) -> AccessCredential:
    record, _ = new_access_credential(
        "robot",
        "ci",
        owner,
        now=T0,
        expires_at=T0 + timedelta(hours=1),
        access_token_lifetime=None if lifetime is None else timedelta(seconds=lifetime),
    )
    return store.add_access_credential(record)


def trust_policies(dockit: Dockit) -> TrustPolicyAdmin:
    assert dockit.admin.trust_policies is not None
    return dockit.admin.trust_policies


def ask(dockit: Dockit, clock: Clock, *scopes: str, **claims: Any) -> TokenOutcome:
    request = TokenRequest(
        service=SERVICE,
        scopes=list(scopes),
        username="gh",
        password=Secret(oidc_token(clock, **claims)),
    )
    return dockit.tokens.handle(request)


def claims_of(dockit: Dockit, outcome: TokenOutcome) -> dict[str, Any]:
    bundle = dockit.keys.bundle_pem()
    return verify_token(
        outcome.token.token, bundle_pem=bundle, issuer=ISSUER, service=SERVICE, now=T0
    )


def granted(dockit: Dockit, clock: Clock, *scopes: str) -> list[list[str]]:
    return [entry["actions"] for entry in claims_of(dockit, ask(dockit, clock, *scopes))["access"]]


def last_token_event(dockit: Dockit) -> dict[str, Any]:
    assert dockit.auditor is not None
    dockit.auditor.flush()
    event = dockit.store.query_events(kind="token").items[0]
    return {"actor": event.actor, **(event.detail or {})}


def test_a_matching_token_acts_with_the_robots_grants_and_public_ones(
    store: Backend, dockit: Dockit, clock: Clock
) -> None:
    """Never those of ``authenticated``, nor of a user named like the policy."""
    add_robot(store)
    trust_policies(dockit).create(policy(), actor=ADMIN)
    outcome = ask(
        dockit,
        clock,
        "repository:ci/app:push",
        "repository:gh-user/app:push",
        "repository:shared/base:pull",
        "repository:public/base:pull",
        "repository:alice/app:pull",
    )
    token = claims_of(dockit, outcome)
    assert [entry["actions"] for entry in token["access"]] == [["push"], [], [], ["pull"], []]
    assert token["sub"] == "federation:gh"
    assert token["exp"] - token["iat"] == 600  # the policy's cap
    assert outcome.refresh_token is None
    assert outcome.identity is not None
    assert (outcome.identity.username, outcome.identity.source) == ("gh", "federation")
    event = last_token_event(dockit)
    assert event["actor"] == "federation:gh"
    assert event["credential"] == {
        "kind": "federation",
        "id": "federation:gh",
        "issuer": OIDC_ISSUER,
        "sub": "repo:acme/app:ref:refs/heads/main",
        "jti": "run-1",
        "robot": "ci",
    }
    assert event["granted"] == ["repository:ci/app:push", "repository:public/base:pull"]


def test_a_grant_given_to_the_robot_or_taken_counts_from_the_next_login(
    store: Backend, dockit: Dockit, clock: Clock
) -> None:
    add_robot(store)
    trust_policies(dockit).create(policy(), actor=ADMIN)
    assert granted(dockit, clock, "repository:later/app:push") == [[]]
    grant = dockit.admin.add_grant("robot:ci", "repository", "later/*", ["push"], actor=ADMIN).grant
    assert granted(dockit, clock, "repository:later/app:push") == [["push"]]
    assert grant.id is not None
    dockit.admin.delete_grant(grant.id, actor=ADMIN)
    assert granted(dockit, clock, "repository:later/app:push") == [[]]


def test_user_in_the_robots_patterns_is_the_robots_name(
    store: Backend, dockit: Dockit, clock: Clock
) -> None:
    """As in the robot's own logins, not the policy's name."""
    add_robot(store)
    store.add_grant(Grant("robot:ci", "repository", "home/${user}/*", ("push",)))
    trust_policies(dockit).create(policy(), actor=ADMIN)
    assert granted(dockit, clock, "repository:home/ci/app:push", "repository:home/gh/app:push") == [
        ["push"],
        [],
    ]


def _disable(store: Backend, robot: AccessCredential, clock: Clock) -> None:
    store.set_access_credential_enabled(robot.id, False)


def _expire(store: Backend, robot: AccessCredential, clock: Clock) -> None:
    clock.now = T0 + timedelta(hours=1)


def _delete(store: Backend, robot: AccessCredential, clock: Clock) -> None:
    store.delete_access_credential(robot.id)


def _disable_owner(store: Backend, robot: AccessCredential, clock: Clock) -> None:
    store.set_user_enabled("alice", False)


def _delete_owner(store: Backend, robot: AccessCredential, clock: Clock) -> None:
    store.delete_user("alice")  # deletes the robot too


def _disable_owning_group(store: Backend, robot: AccessCredential, clock: Clock) -> None:
    store.set_group_enabled("builders", False)


@pytest.mark.parametrize(
    ("change", "owner", "reason"),
    [
        (_disable, "user:alice", "the robot account is disabled"),
        (_expire, "user:alice", "the robot account is expired"),
        (_delete, "user:alice", "the robot account does not exist"),
        (_disable_owner, "user:alice", "the robot account's owner is disabled"),
        (_delete_owner, "user:alice", "the robot account does not exist"),
        (_disable_owning_group, "group:builders", "owning group is disabled"),
    ],
)
def test_a_robot_that_may_not_act_refuses_every_login(
    store: Backend, dockit: Dockit, clock: Clock, change: Any, owner: str, reason: str
) -> None:
    robot = add_robot(store, owner)
    trust_policies(dockit).create(policy(), actor=ADMIN)
    assert granted(dockit, clock, "repository:ci/app:push") == [["push"]]
    change(store, robot, clock)
    with pytest.raises(CredentialRefused) as refused:
        ask(dockit, clock, "repository:ci/app:push")
    assert reason in refused.value.message
    assert "(the trust policy acts as robot:ci)" in refused.value.message
    assert refused.value.http_status == 401
    event = last_token_event(dockit)
    assert (event["actor"], event["outcome"]) == ("federation:gh", "refused (401)")
    assert event["credential"]["robot"] == "ci"
    assert event["credential"]["jti"] == "run-1"


def test_a_disabled_robot_acts_again_once_enabled(
    store: Backend, dockit: Dockit, clock: Clock
) -> None:
    robot = add_robot(store)
    trust_policies(dockit).create(policy(), actor=ADMIN)
    store.set_access_credential_enabled(robot.id, False)
    with pytest.raises(AuthenticationFailed, match="is disabled"):
        ask(dockit, clock, "repository:ci/app:push")
    store.set_access_credential_enabled(robot.id, True)
    assert granted(dockit, clock, "repository:ci/app:push") == [["push"]]


def test_claims_that_do_not_match_are_refused_before_the_robot_is_judged(
    store: Backend, dockit: Dockit, clock: Clock
) -> None:
    """A token that is not the policy's learns nothing about its robot."""
    robot = add_robot(store)
    trust_policies(dockit).create(policy(), actor=ADMIN)
    store.delete_access_credential(robot.id)
    with pytest.raises(AuthenticationFailed) as refused:
        ask(dockit, clock, "repository:ci/app:push", repository="evil/app")
    assert "claim condition not met" in refused.value.message
    assert "robot" not in refused.value.message


@pytest.mark.parametrize(
    ("cap", "own", "expected"),
    [
        (600, None, 600),  # the policy's cap
        (600, 120, 120),  # the robot's own, shorter
        (3600, 1800, 900),  # the service's lifetime
        (600, 7200, 600),  # the robot's own is capped (3600) and longer anyway
    ],
)
def test_the_access_token_lives_the_shortest_lifetime(
    store: Backend, dockit: Dockit, clock: Clock, cap: int, own: int | None, expected: int
) -> None:
    add_robot(store, lifetime=own)
    trust_policies(dockit).create(policy(max_token_lifetime_seconds=cap), actor=ADMIN)
    token = claims_of(dockit, ask(dockit, clock, "repository:ci/app:push"))
    assert token["exp"] - token["iat"] == expected


# -- managing such policies ------------------------------------------------------------------


def test_a_policy_naming_a_missing_robot_is_refused_and_nothing_stored(
    store: Backend, dockit: Dockit
) -> None:
    add_robot(store)
    admin = trust_policies(dockit)
    with pytest.raises(ValidationError) as refused:
        admin.create(policy(robot="cii"), actor=ADMIN)
    assert refused.value.field == "robot"
    assert "robot:cii does not exist (did you mean robot:ci?)" in refused.value.message
    assert "dockit robot create cii" in refused.value.message
    assert store.list_trust_policies().total == 0
    admin.create(policy(robot="ci", conditions=()), actor=ADMIN)
    templated = policy(robot=None, grants=[GrantTemplate("ci/${claim.repository}", ["push"])])
    admin.replace(templated, actor=ADMIN)
    with pytest.raises(ValidationError, match="robot:nobody does not exist"):
        admin.replace(policy(robot="nobody"), actor=ADMIN)
    assert store.get_trust_policy("gh") == templated


def test_deleting_a_robot_a_policy_names_is_allowed_and_its_logins_stop(
    store: Backend, dockit: Dockit, clock: Clock
) -> None:
    """The documented choice: a robot also goes with its owner, so the login path refuses a
    missing robot in any case; the policy stays, and says why its tokens are refused."""
    add_robot(store, "user:alice")
    trust_policies(dockit).create(policy(), actor=ADMIN)
    dockit.credentials.delete_robot("ci", actor=ADMIN)
    with pytest.raises(AuthenticationFailed, match="the robot account does not exist"):
        ask(dockit, clock, "repository:ci/app:push")
    explained = trust_policies(dockit).explain("gh", claims={"repository": "acme/app"})
    assert not explained.matched
    assert explained.reasons() == [
        "federated token refused: the robot account does not exist "
        "(the trust policy acts as robot:ci)"
    ]


def test_explain_shows_the_robots_grants_now(store: Backend, dockit: Dockit, clock: Clock) -> None:
    robot = add_robot(store, lifetime=120)
    admin = trust_policies(dockit)
    admin.create(policy(), actor=ADMIN)
    answer = admin.explain("gh", claims={"repository": "acme/app"}).as_json()
    assert answer["matched"] is True
    assert answer["grants"] == []
    assert answer["token_lifetime"] == 120
    assert answer["robot"] == {
        "name": "ci",
        "usable": True,
        "refusal": None,
        "grants": [
            {
                "subject": "anonymous",
                "resource_type": "repository",
                "pattern": "public/*",
                "actions": ["pull"],
            },
            {
                "subject": "robot:ci",
                "resource_type": "repository",
                "pattern": "ci/**",
                "actions": ["push"],
            },
        ],
        "token_lifetime": 120,
    }
    other = admin.explain("gh", claims={"repository": "acme/other"}).as_json()
    assert other["matched"] is False
    assert other["reasons"] == ["claim condition not met: repository = acme/app"]
    store.set_access_credential_enabled(robot.id, False)
    disabled = admin.explain("gh", claims={"repository": "acme/app"}).as_json()
    assert disabled["matched"] is False
    assert disabled["robot"]["usable"] is False
    assert "the robot account is disabled" in disabled["robot"]["refusal"]
    assert disabled["reasons"] == [disabled["robot"]["refusal"]]


def test_without_robot_accounts_such_a_policy_refuses_its_logins(clock: Clock) -> None:
    """An exchange built without robots (a store that keeps none) never guesses grants."""
    exchange = FederationExchange(Federation([policy()], clock=clock))
    with pytest.raises(CredentialRefused, match="keeps no robot accounts") as refused:
        exchange.exchange("gh", Secret(oidc_token(clock)), service=SERVICE)
    assert refused.value.credential["robot"] == "ci"
