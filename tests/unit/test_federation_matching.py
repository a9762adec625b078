"""A verified token's claims against its trust policy: conditions, then filled grants."""

from __future__ import annotations

from typing import Any

from libdockit.federation import (
    ClaimCondition,
    GrantTemplate,
    PolicyMatch,
    TrustPolicy,
    match_policy,
)
from libdockit.model import Grant

GITHUB: dict[str, Any] = {
    "sub": "repo:acme/app:ref:refs/heads/main",
    "repository": "acme/app",
    "repository_owner": "acme",
    "ref": "refs/heads/main",
}
POLICY = TrustPolicy(
    name="github-acme",
    issuer="https://token.actions.githubusercontent.com",
    audiences=["https://registry.example.test"],
    conditions=[
        ClaimCondition("repository_owner", "acme"),
        ClaimCondition("ref", "refs/heads/*"),
    ],
    grants=[
        GrantTemplate("ci/${claim.repository}/**", ["push"]),
        GrantTemplate("base/*", ["pull"]),
        GrantTemplate("env/${claim.environment}", ["push"]),
    ],
)


def test_a_match_gets_its_filled_grants_and_names_what_it_could_not_fill() -> None:
    outcome = match_policy(POLICY, GITHUB)
    assert outcome.matched
    assert outcome.grants == (
        Grant("federation:github-acme", "repository", "ci/acme/app/**", ("push",)),
        Grant("federation:github-acme", "repository", "base/*", ("pull",)),
    )
    assert outcome.unusable == ("env/${claim.environment}",)
    assert outcome.reasons() == ["no usable claim for grant pattern env/${claim.environment}"]


def test_an_unmet_condition_gets_nothing_and_says_which() -> None:
    outcome = match_policy(POLICY, {**GITHUB, "ref": "refs/tags/v1", "repository_owner": "evil"})
    assert not outcome.matched
    assert outcome.grants == ()
    assert outcome.reasons() == [
        "claim condition not met: repository_owner = acme",
        "claim condition not met: ref ~ refs/heads/*",
    ]


def test_a_claim_that_would_widen_a_grant_fills_nothing() -> None:
    outcome = match_policy(POLICY, {**GITHUB, "repository": "**"})
    assert outcome.matched
    assert [g.pattern for g in outcome.grants] == ["base/*"]
    assert "ci/${claim.repository}/**" in outcome.unusable


def test_a_policy_without_conditions_matches_any_verified_token() -> None:
    open_policy = TrustPolicy(
        name="k8s",
        issuer="https://k8s.test",
        audiences=["dockit"],
        grants=[GrantTemplate("k8s/base", ["pull"])],
    )
    outcome = match_policy(open_policy, {"sub": "system:serviceaccount:ci:builder"})
    assert outcome.matched
    assert [g.pattern for g in outcome.grants] == ["k8s/base"]


def test_a_policy_that_names_a_robot_matches_with_no_grants_of_its_own() -> None:
    """The robot's grants are the store's, read at login (libdockit.federation.robots)."""
    robot_policy = TrustPolicy(
        name="gh",
        issuer="https://gh.test",
        audiences=["dockit"],
        conditions=[ClaimCondition("repository", "acme/app")],
        robot="ci",
    )
    assert match_policy(robot_policy, {"repository": "acme/app"}) == PolicyMatch("gh", (), (), ())
    assert not match_policy(robot_policy, {"repository": "acme/other"}).matched
