"""Trust policies: stored by name with every field, listed by name, replaced, deleted, and
a version that moves on every change."""

from __future__ import annotations

import pytest

from ...backends.trust_store import TrustPolicyStore
from ...errors import Conflict, NotFound
from ...federation.claims import ClaimCondition
from ...federation.trust import GrantTemplate, TrustPolicy
from ...model import Page

STATIC_JWKS = {
    "keys": [
        {
            "kty": "EC",
            "crv": "P-256",
            "kid": "k1",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        }
    ]
}


def make_trust_policy(
    name: str, issuer: str = "https://issuer.test", **fields: object
) -> TrustPolicy:
    """A policy with the fields given; without grants, one that acts as the robot ``ci``
    (stores keep a policy whether or not its robot exists: the Admin API checks that)."""
    values: dict[str, object] = {"audiences": ["dockit"], **fields}
    if "grants" not in values:
        values.setdefault("robot", "ci")
    return TrustPolicy(name=name, issuer=issuer, **values)  # type: ignore[arg-type]


def full_trust_policy(name: str = "github") -> TrustPolicy:
    """A policy with every field set away from its default."""
    return make_trust_policy(
        name,
        "https://token.actions.githubusercontent.com",
        audiences=["https://registry.example", "dockit"],
        algorithms=["RS256", "ES384", "EdDSA"],
        leeway_seconds=17,
        static_jwks=STATIC_JWKS,
        conditions=[
            ClaimCondition("repository_owner", "acme"),
            ClaimCondition("ref", "refs/heads/*"),
            ClaimCondition("kubernetes.io/namespace", "ci"),
        ],
        grants=[
            GrantTemplate("ci/${claim.repository}/**", ["push"]),
            GrantTemplate("shared/*", ["pull"]),
        ],
        max_token_lifetime_seconds=900,
    )


def same(left: TrustPolicy, right: TrustPolicy) -> bool:
    """Equal in every field (a policy's equality leaves its static JWKS out)."""
    return left == right and left.static_jwks == right.static_jwks


class TrustPolicyConformance:
    """Mixed into a backend's conformance tests once it implements TrustPolicyStore."""

    def test_add_and_get_round_trip_every_field(self, backend: TrustPolicyStore) -> None:
        policy = full_trust_policy()
        assert same(backend.add_trust_policy(policy), policy)
        assert same(backend.get_trust_policy("github"), policy)
        plain = make_trust_policy("plain")
        backend.add_trust_policy(plain)
        assert same(backend.get_trust_policy("plain"), plain)
        assert backend.get_trust_policy("plain").static_jwks is None
        assert backend.get_trust_policy("plain").robot == "ci"
        assert backend.get_trust_policy("github").robot is None

    def test_a_taken_name_is_a_conflict(self, backend: TrustPolicyStore) -> None:
        backend.add_trust_policy(make_trust_policy("github"))
        with pytest.raises(Conflict):
            backend.add_trust_policy(make_trust_policy("github", "https://other.test"))
        assert backend.get_trust_policy("github").issuer == "https://issuer.test"

    def test_missing_policies_are_not_found(self, backend: TrustPolicyStore) -> None:
        with pytest.raises(NotFound):
            backend.get_trust_policy("nobody")
        with pytest.raises(NotFound):
            backend.replace_trust_policy(make_trust_policy("nobody"))
        with pytest.raises(NotFound):
            backend.delete_trust_policy("nobody")
        assert backend.list_trust_policies() == Page([], 0)

    def test_listed_by_name_in_code_point_order_and_paged(self, backend: TrustPolicyStore) -> None:
        for name in ("gitlab", "a-k8s", "github", "a.k8s", "a_k8s"):
            backend.add_trust_policy(make_trust_policy(name))
        page = backend.list_trust_policies()
        assert [p.name for p in page.items] == ["a-k8s", "a.k8s", "a_k8s", "github", "gitlab"]
        assert page.total == 5
        second = backend.list_trust_policies(offset=2, limit=2)
        assert ([p.name for p in second.items], second.total) == (["a_k8s", "github"], 5)

    def test_replace_changes_every_field(self, backend: TrustPolicyStore) -> None:
        backend.add_trust_policy(make_trust_policy("github"))
        changed = full_trust_policy()
        assert same(backend.replace_trust_policy(changed), changed)
        assert same(backend.get_trust_policy("github"), changed)
        back = make_trust_policy("github", "https://issuer.test")
        backend.replace_trust_policy(back)
        assert same(backend.get_trust_policy("github"), back)

    def test_delete_returns_the_policy_and_forgets_it(self, backend: TrustPolicyStore) -> None:
        backend.add_trust_policy(full_trust_policy())
        backend.add_trust_policy(make_trust_policy("gitlab"))
        assert same(backend.delete_trust_policy("github"), full_trust_policy())
        assert [p.name for p in backend.list_trust_policies().items] == ["gitlab"]
        backend.add_trust_policy(make_trust_policy("github"))  # the name is free again
        assert backend.get_trust_policy("github").grants == ()
        assert backend.get_trust_policy("github").robot == "ci"

    def test_the_version_moves_on_every_change_only(self, backend: TrustPolicyStore) -> None:
        seen = [backend.trust_policy_version()]
        backend.add_trust_policy(make_trust_policy("github"))
        seen.append(backend.trust_policy_version())
        backend.replace_trust_policy(full_trust_policy())
        seen.append(backend.trust_policy_version())
        backend.delete_trust_policy("github")
        seen.append(backend.trust_policy_version())
        assert None not in seen
        assert len(set(seen)) == 4
        backend.list_trust_policies()
        with pytest.raises(NotFound):
            backend.get_trust_policy("github")
        assert backend.trust_policy_version() == seen[-1]

    def test_failed_changes_leave_the_version(self, backend: TrustPolicyStore) -> None:
        backend.add_trust_policy(make_trust_policy("github"))
        before = backend.trust_policy_version()
        with pytest.raises(Conflict):
            backend.add_trust_policy(make_trust_policy("github"))
        with pytest.raises(NotFound):
            backend.delete_trust_policy("gitlab")
        with pytest.raises(NotFound):
            backend.replace_trust_policy(make_trust_policy("gitlab"))
        assert backend.trust_policy_version() == before
