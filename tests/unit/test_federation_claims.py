"""Claim conditions (exact and glob) and claim interpolation into grant patterns."""

from __future__ import annotations

from typing import Any

import pytest

from libdockit.errors import ValidationError
from libdockit.federation.claims import (
    ClaimCondition,
    claim_value,
    interpolate,
    unmet_conditions,
    validate_template,
)

GITHUB: dict[str, Any] = {
    "sub": "repo:Acme/App:ref:refs/heads/main",
    "repository": "Acme/App",
    "ref": "refs/heads/main",
    "run_number": "17",
}
KUBERNETES: dict[str, Any] = {
    "sub": "system:serviceaccount:ci:builder",
    "kubernetes.io": {"namespace": "ci", "serviceaccount": {"name": "builder"}},
}


def test_claim_value_walks_nested_objects() -> None:
    assert claim_value(KUBERNETES, "kubernetes.io/namespace") == "ci"
    assert claim_value(KUBERNETES, "kubernetes.io/serviceaccount/name") == "builder"
    assert claim_value(KUBERNETES, "kubernetes.io/missing") is None
    assert claim_value(KUBERNETES, "sub/deeper") is None


@pytest.mark.parametrize(
    ("claim", "value", "claims", "expected"),
    [
        ("ref", "refs/heads/main", GITHUB, True),
        ("ref", "refs/heads/mai", GITHUB, False),
        ("ref", "refs/heads/*", GITHUB, True),
        ("ref", "refs/tags/*", GITHUB, False),
        ("ref", "refs/*", GITHUB, False),  # '*' stays within one segment
        ("ref", "refs/**", GITHUB, True),
        ("repository", "acme/app", GITHUB, False),  # exact is exact, case too
        ("sub", "system:serviceaccount:ci:*", KUBERNETES, True),
        ("sub", "system:serviceaccount:prod:*", KUBERNETES, False),
        ("kubernetes.io/namespace", "ci", KUBERNETES, True),
        ("kubernetes.io", "ci", KUBERNETES, False),  # an object never matches
        ("missing", "*", GITHUB, False),
    ],
)
def test_conditions_match_exactly_or_by_glob(
    claim: str, value: str, claims: dict[str, Any], expected: bool
) -> None:
    assert ClaimCondition(claim, value).matches(claims) is expected


def test_a_number_claim_does_not_match_its_text() -> None:
    assert not ClaimCondition("run", "17").matches({"run": 17})


def test_unmet_conditions_lists_each_failure() -> None:
    conditions = [
        ClaimCondition("repository", "Acme/App"),
        ClaimCondition("ref", "refs/tags/*"),
        ClaimCondition("sub", "repo:Acme/*:ref:refs/heads/main"),
        ClaimCondition("sub", "repo:**:ref:refs/heads/main"),
    ]
    assert [str(c) for c in unmet_conditions(conditions, GITHUB)] == ["ref ~ refs/tags/*"]


@pytest.mark.parametrize(
    ("claim", "value"), [("", "x"), ("a b", "x"), ("ref", ""), ("ref", "refs/***")]
)
def test_bad_conditions_are_refused(claim: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ClaimCondition(claim, value)
    assert caught.value.field == "conditions"


def test_interpolation_fills_lowercased_claims() -> None:
    assert interpolate("ci/${claim.repository}/**", GITHUB) == "ci/acme/app/**"
    template = "k8s/${claim.kubernetes.io/namespace}/${claim.kubernetes.io/serviceaccount/name}"
    assert interpolate(template, KUBERNETES) == "k8s/ci/builder"


@pytest.mark.parametrize(
    "value",
    ["**", "a/*", "../admin", "a/../b", "", "a b", "a//b", "/a", "a/", "-a", 17, None, ["a"]],
)
def test_a_value_that_is_no_plain_path_makes_the_grant_unusable(value: object) -> None:
    assert interpolate("ci/${claim.repository}/**", {"repository": value}) is None


def test_a_missing_claim_makes_the_grant_unusable() -> None:
    assert interpolate("ci/${claim.repository}", {}) is None


def test_templates_are_checked_as_patterns() -> None:
    assert validate_template("ci/${claim.repository}/**") == "ci/${claim.repository}/**"
    for bad in ("ci/${claim.repository}/***", "ci/${env.HOME}", "ci/${claim.}"):
        with pytest.raises(ValidationError) as caught:
            validate_template(bad)
        assert caught.value.field == "grants"
