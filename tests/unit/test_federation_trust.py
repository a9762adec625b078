"""Trust policy fields: what a policy may accept, each refusal naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from libdockit.errors import ValidationError
from libdockit.federation import (
    ClaimCondition,
    GrantTemplate,
    TrustPolicy,
    policy_document,
    policy_from_document,
)
from libdockit.testing.conformance import full_trust_policy

GOOD: dict[str, Any] = {
    "name": "github",
    "issuer": "https://issuer.test",
    "audiences": ["d"],
    "grants": [GrantTemplate("ci/**", ["pull"])],
}
#: GOOD as a document.
DOCUMENT: dict[str, Any] = {**GOOD, "grants": [{"pattern": "ci/**", "actions": ["pull"]}]}


def test_defaults_accept_rs256_and_es256_with_a_minute_of_leeway() -> None:
    policy = TrustPolicy(**GOOD)
    assert policy.algorithms == ("RS256", "ES256")
    assert policy.leeway_seconds == 60
    assert policy.audiences == ("d",)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", " github"),
        ("name", "git hub"),
        ("name", "github;rm"),
        ("issuer", "token.actions.githubusercontent.com"),
        ("issuer", "http://token.actions.githubusercontent.com"),
        ("issuer", "ftp://issuer.test"),
        ("audiences", []),
        ("audiences", "dockit"),
        ("audiences", [""]),
        ("algorithms", []),
        ("algorithms", ["none"]),
        ("algorithms", ["HS256"]),
        ("algorithms", ["RS256", "HS512"]),
        ("leeway_seconds", -1),
        ("leeway_seconds", 301),
        ("static_jwks", {"kid": "x"}),
        ("max_token_lifetime_seconds", 0),
        ("max_token_lifetime_seconds", 3601),
    ],
)
def test_bad_fields_are_refused_by_name(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        TrustPolicy(**{**GOOD, field: value})
    assert caught.value.field == field


def test_conditions_and_grants_are_kept_as_tuples() -> None:
    policy = TrustPolicy(
        **{**GOOD, "grants": [GrantTemplate("ci/${claim.repository}/**", ["push"])]},
        conditions=[ClaimCondition("ref", "refs/heads/*")],
    )
    assert policy.conditions == (ClaimCondition("ref", "refs/heads/*"),)
    assert policy.grants[0].actions == ("push",)
    assert policy.max_token_lifetime_seconds == 300


@pytest.mark.parametrize(
    ("pattern", "actions", "field"),
    [
        ("ci/${claim.repository}/***", ["push"], "grants"),
        ("ci/${secret.x}", ["pull"], "grants"),
        ("ci/${claim.repository}", [], "actions"),
        ("ci/${claim.repository}", ["own"], "actions"),
    ],
)
def test_bad_grant_templates_are_refused(pattern: str, actions: list[str], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        GrantTemplate(pattern, actions)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"]
)
def test_plain_http_is_allowed_to_loopback_only(issuer: str) -> None:
    assert TrustPolicy(**{**GOOD, "issuer": issuer}).issuer == issuer


def test_the_name_is_a_login_name_in_its_canonical_form() -> None:
    assert TrustPolicy(**{**GOOD, "name": "GitHub-Main"}).name == "github-main"


def test_a_document_round_trips_every_field() -> None:
    policy = full_trust_policy()
    again = policy_from_document(json.loads(json.dumps(policy_document(policy))))
    assert again == policy
    assert again.static_jwks == policy.static_jwks


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"issuer": "https://i.test", "audiences": ["d"]}, "name"),
        ({**DOCUMENT, "color": "red"}, "color"),
        ({**DOCUMENT, "audiences": "d"}, "audiences"),
        ({**DOCUMENT, "leeway_seconds": "60"}, "leeway_seconds"),
        ({**DOCUMENT, "leeway_seconds": True}, "leeway_seconds"),
        ({**DOCUMENT, "conditions": [{"claim": "sub"}]}, "conditions"),
        ({**DOCUMENT, "conditions": [{"claim": "sub", "value": 3}]}, "conditions"),
        ({**DOCUMENT, "grants": [{"pattern": "ci/*", "actions": "push"}]}, "grants"),
        ({**DOCUMENT, "grants": [{"pattern": "ci/${claim.x", "actions": ["push"]}]}, "grants"),
        ({**DOCUMENT, "static_jwks": ["k"]}, "static_jwks"),
    ],
)
def test_bad_documents_are_refused_by_field(document: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        policy_from_document(document)
    assert caught.value.field == field


def test_a_policy_may_name_a_robot_instead_of_grants() -> None:
    policy = TrustPolicy(**{**GOOD, "grants": [], "robot": "CI-Pusher"})
    assert policy.robot == "ci-pusher"  # a login name, in its canonical form
    assert policy.grants == ()
    assert TrustPolicy(**{**GOOD, "grants": [], "robot": "robot:ci"}).robot == "ci"
    document = policy_document(policy)
    assert (document["robot"], document["grants"]) == ("ci-pusher", [])
    assert policy_from_document(json.loads(json.dumps(document))) == policy
    assert policy_document(TrustPolicy(**GOOD))["robot"] is None


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"grants": []}, "grants", "grants (templates filled from the claims) or a robot"),
        ({"robot": "ci"}, "robot", "not both"),
        ({"grants": [], "robot": "ci pusher"}, "robot", "must be 1-64 characters"),
        ({"grants": [], "robot": ""}, "robot", "must be 1-64 characters"),
    ],
)
def test_grants_or_a_robot_exactly_one(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TrustPolicy(**{**GOOD, **changes})
    assert caught.value.field == field
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"robot": 7}, "robot"),
        ({"robot": ["ci"]}, "robot"),
        ({"robot": "ci"}, "robot"),
        ({"grants": [], "robot": None}, "grants"),
    ],
)
def test_bad_robot_documents_are_refused_by_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        policy_from_document({**DOCUMENT, **changes})
    assert caught.value.field == field
