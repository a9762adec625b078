"""The /api/v1/trust-policies routes: create, list, get, replace, delete, each audited; bad
bodies refused by field with nothing changed; explain for claims and for tokens (verified
against a static JWKS here; the issuer on loopback is in the e2e tests); and a policy made
here logs workloads in at once through /v2/token."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from falcon.testing import TestClient
from jwt.algorithms import ECAlgorithm

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.ring import ensure_active_key

from .conftest import USER_AUTH, Api, assert_error, basic

KEY = ec.generate_private_key(ec.SECP256R1())
JWKS = {"keys": [{**ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": "k1"}]}
ISSUER = "https://token.actions.githubusercontent.com"
FIELDS: dict[str, Any] = {
    "issuer": ISSUER,
    "audiences": ["dockit"],
    "algorithms": ["ES256"],
    "static_jwks": JWKS,
    "conditions": [
        {"claim": "repository_owner", "value": "acme"},
        {"claim": "ref", "value": "refs/heads/*"},
    ],
    "grants": [{"pattern": "ci/${claim.repository}/**", "actions": ["push"]}],
    "max_token_lifetime_seconds": 120,
}
CLAIMS = {
    "repository": "acme/app",
    "repository_owner": "acme",
    "ref": "refs/heads/main",
    "sub": "repo:acme/app:ref:refs/heads/main",
    "jti": "run-7",
}


def oidc_token(**changes: Any) -> str:
    now = datetime.now(UTC)
    body = {
        "iss": ISSUER,
        "aud": "dockit",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        **CLAIMS,
        **changes,
    }
    return jwt.encode(body, KEY, algorithm="ES256", headers={"kid": "k1"})


def create(api: Api, name: str = "GitHub-Acme", **changes: Any) -> dict[str, Any]:
    result = api.post("/trust-policies", json={"name": name, **FIELDS, **changes})
    assert result.status_code == 201, result.text
    body: dict[str, Any] = result.json
    return body


def test_create_get_list_replace_delete(api: Api, backend: MemoryBackend) -> None:
    created = create(api)
    assert created == {"name": "github-acme", "leeway_seconds": 60, **FIELDS, "robot": None}
    assert api.get("/trust-policies/GITHUB-ACME").json == created
    create(api, "another")
    listed = api.get("/trust-policies", params={"limit": "1"}).json
    assert (listed["total"], [p["name"] for p in listed["items"]]) == (2, ["another"])

    replaced = api.put(
        "/trust-policies/github-acme",
        json={"issuer": ISSUER, "audiences": ["other"], "grants": FIELDS["grants"]},
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json["audiences"] == ["other"]
    assert replaced.json["conditions"] == []  # PUT replaces every field
    assert backend.get_trust_policy("github-acme").audiences == ("other",)

    assert api.delete("/trust-policies/github-acme").status_code == 204
    assert_error(api.get("/trust-policies/github-acme"), 404, "NOT_FOUND")
    assert_error(api.delete("/trust-policies/github-acme"), 404, "NOT_FOUND")


def test_every_change_is_audited_with_the_document(api: Api, backend: MemoryBackend) -> None:
    create(api)
    api.put(
        "/trust-policies/github-acme",
        json={"issuer": ISSUER, "audiences": ["other"], "grants": FIELDS["grants"]},
    )
    api.delete("/trust-policies/github-acme")
    events = backend.query_events(kind="admin").items  # newest first
    assert [(e.action, e.target, e.actor) for e in events[:3]] == [
        ("trust_policy.delete", "trust-policy:github-acme", "user:root"),
        ("trust_policy.update", "trust-policy:github-acme", "user:root"),
        ("trust_policy.create", "trust-policy:github-acme", "user:root"),
    ]
    deleted, updated, made = events[:3]
    assert made.after is not None
    assert made.after["conditions"] == FIELDS["conditions"]
    assert updated.before == made.after
    assert updated.after is not None
    assert updated.after["audiences"] == ["other"]
    assert (deleted.before, deleted.after) == (updated.after, None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"issuer": "http://issuer.example"}, "issuer"),
        ({"audiences": []}, "audiences"),
        ({"algorithms": ["HS256"]}, "algorithms"),
        ({"algorithms": ["none"]}, "algorithms"),
        ({"leeway_seconds": 301}, "leeway_seconds"),
        ({"leeway_seconds": True}, "leeway_seconds"),
        ({"max_token_lifetime_seconds": 3601}, "max_token_lifetime_seconds"),
        ({"static_jwks": {"kid": "x"}}, "static_jwks"),
        ({"conditions": [{"claim": "ref"}]}, "conditions"),
        ({"conditions": [{"claim": "ref", "value": 1}]}, "conditions"),
        ({"grants": [{"pattern": "ci/${claim.x", "actions": ["push"]}]}, "grants"),
        ({"grants": [{"pattern": "ci/*", "actions": ["fly"]}]}, "grants"),
        ({"name": "git hub"}, "name"),
        ({"grants": []}, "grants"),
        ({"robot": "ci"}, "robot"),
        ({"robot": 3}, "robot"),
    ],
)
def test_bad_bodies_are_refused_by_field_and_change_nothing(
    api: Api, backend: MemoryBackend, changes: dict[str, Any], field: str
) -> None:
    result = api.post("/trust-policies", json={"name": "gh", **FIELDS, **changes})
    entry = assert_error(result, 400, "INVALID_FIELD")
    assert field in (entry["detail"]["field"], *entry["detail"].get("fields", ())), entry
    assert backend.list_trust_policies().total == 0
    assert backend.query_events(kind="admin").total == 0


def test_a_taken_name_is_a_conflict(api: Api) -> None:
    create(api)
    assert_error(
        api.post("/trust-policies", json={"name": "github-acme", **FIELDS}), 409, "CONFLICT"
    )


def test_only_admins_manage_trust_policies(api: Api) -> None:
    assert_error(api.get("/trust-policies", headers=USER_AUTH), 403, "DENIED")
    refused = api.post("/trust-policies", json={"name": "gh", **FIELDS}, headers=USER_AUTH)
    assert_error(refused, 403, "DENIED")


def test_explain_claims(api: Api) -> None:
    create(api)
    good = api.post("/trust-policies/github-acme/explain", json={"claims": CLAIMS})
    assert good.status_code == 200, good.text
    assert good.json == {
        "policy": "github-acme",
        "matched": True,
        "reasons": [],
        "conditions": [
            {"claim": "repository_owner", "value": "acme", "glob": False, "met": True},
            {"claim": "ref", "value": "refs/heads/*", "glob": True, "met": True},
        ],
        "grants": [
            {
                "template": "ci/${claim.repository}/**",
                "actions": ["push"],
                "pattern": "ci/acme/app/**",
            }
        ],
        "token_lifetime": 120,
    }
    tag = api.post(
        "/trust-policies/github-acme/explain", json={"claims": {**CLAIMS, "ref": "refs/tags/v1"}}
    ).json
    assert tag["matched"] is False
    assert tag["reasons"] == ["claim condition not met: ref ~ refs/heads/*"]
    assert [c["met"] for c in tag["conditions"]] == [True, False]


def test_explain_a_token(api: Api) -> None:
    create(api)
    good = api.post("/trust-policies/github-acme/explain", json={"token": oidc_token()}).json
    assert good["matched"] is True
    assert good["token"] == {
        "verified": True,
        "kid": "k1",
        "issuer": ISSUER,
        "sub": CLAIMS["sub"],
        "jti": "run-7",
    }
    expired = oidc_token(exp=int(datetime.now(UTC).timestamp()) - 3600, ref="refs/tags/v1")
    bad = api.post("/trust-policies/github-acme/explain", json={"token": expired}).json
    assert bad["token"] == {
        "verified": False,
        "reason": "federated token refused: the token has expired",
    }
    assert bad["reasons"] == ["claim condition not met: ref ~ refs/heads/*"]
    assert_error(
        api.post("/trust-policies/github-acme/explain", json={"token": "not-a-jwt"}),
        400,
        "INVALID_FIELD",
        "token",
    )
    both = api.post(
        "/trust-policies/github-acme/explain", json={"token": oidc_token(), "claims": CLAIMS}
    )
    assert_error(both, 400, "INVALID_FIELD", "claims")
    assert_error(
        api.post("/trust-policies/nobody/explain", json={"claims": CLAIMS}), 404, "NOT_FOUND"
    )


def test_a_policy_made_here_logs_workloads_in_at_once(
    api: Api, client: TestClient, backend: MemoryBackend
) -> None:
    ensure_active_key(backend, now=datetime.now(UTC))

    def token_request() -> Any:
        return client.simulate_get(
            "/v2/token",
            params={"service": "registry.test", "scope": "repository:ci/acme/app/web:push"},
            headers=basic("github-acme", oidc_token()),
        )

    assert token_request().status_code == 401  # no such policy: checked as a password
    create(api)
    answer = token_request()
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json["token"], options={"verify_signature": False})
    assert claims["access"][0]["actions"] == ["push"]
    assert claims["sub"] == "federation:github-acme"
    # The admin API refuses the federated login itself.
    refused = api.get("/users", headers=basic("github-acme", oidc_token()))
    assert_error(refused, 403, "DENIED")
    assert "federated" in json.dumps(refused.json)
