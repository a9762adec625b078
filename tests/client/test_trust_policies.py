"""``dockit trust-policy`` and ``dockit explain --federated`` through the real server: a
policy made from options or a YAML file, listed, shown, updated field by field and deleted;
explain for claims and for a token; and a federated login made with it shown by
``dockit audit`` with the issuer, sub and jti.

Tokens here are signed by the test with a key the policy names in a static JWKS; the
independent issuer on loopback is in the e2e tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from dockit_server.client.errors import EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from tests.client.conftest import MakeUser
from tests.client.helpers import Cli, unique
from tests.support.dockit import DockitServer

KEY = ec.generate_private_key(ec.SECP256R1())
JWKS = {"keys": [{**ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": "k1"}]}
ISSUER = "https://token.actions.githubusercontent.com"
CLAIMS = {
    "repository": "acme/app",
    "repository_owner": "acme",
    "ref": "refs/heads/main",
    "sub": "repo:acme/app:ref:refs/heads/main",
}


def oidc_token(**changes: Any) -> str:
    now = datetime.now(UTC)
    body = {
        "iss": ISSUER,
        "aud": "dockit",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": unique("run"),
        **CLAIMS,
        **changes,
    }
    return jwt.encode(body, KEY, algorithm="ES256", headers={"kid": "k1"})


def create(admin_cli: Cli, name: str, jwks: Path, *extra: str) -> Any:
    result = admin_cli(
        "trust-policy",
        "create",
        name,
        "--issuer",
        ISSUER,
        "--audience",
        "dockit",
        "--algorithm",
        "ES256",
        "--static-jwks",
        str(jwks),
        "--condition",
        "repository_owner=acme",
        "--condition",
        "ref=refs/heads/*",
        "--grant",
        "ci/${claim.repository}/**:push",
        "--max-lifetime",
        "120",
        *extra,
        "-o",
        "json",
    )
    assert result.code == EXIT_OK, result
    return result.json()


def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    return path


def test_create_list_show_update_delete(admin_cli: Cli, tmp_path: Path) -> None:
    name = unique("gh")
    created = create(admin_cli, name, jwks_file(tmp_path))
    assert created["conditions"] == [
        {"claim": "repository_owner", "value": "acme"},
        {"claim": "ref", "value": "refs/heads/*"},
    ]
    assert created["grants"] == [{"pattern": "ci/${claim.repository}/**", "actions": ["push"]}]
    assert created["static_jwks"] == JWKS

    listed = admin_cli("trust-policy", "list")
    assert listed.code == EXIT_OK, listed
    assert any(line.split()[:4] == [name, ISSUER, "2", "1"] for line in listed.stdout.splitlines())

    shown = admin_cli("trust-policy", "show", name)
    assert shown.code == EXIT_OK, shown
    assert "conditions:" in shown.stdout
    assert "repository_owner = acme; ref ~ refs/heads/*" in shown.stdout
    assert "keys:               static JWKS" in shown.stdout

    updated = admin_cli(
        "trust-policy", "update", name, "--condition", "ref=refs/heads/main", "-o", "json"
    )
    assert updated.code == EXIT_OK, updated
    policy = updated.json()
    assert policy["conditions"] == [{"claim": "ref", "value": "refs/heads/main"}]
    assert policy["grants"] == created["grants"]  # fields not given stay
    assert policy["max_token_lifetime_seconds"] == 120

    cleared = admin_cli("trust-policy", "update", name, "--no-grants")
    assert cleared.code == EXIT_USAGE, cleared  # a policy must give something
    assert "grants (templates filled from the claims) or a robot account" in cleared.stderr

    deleted = admin_cli("trust-policy", "delete", name, "-y")
    assert deleted.code == EXIT_OK, deleted
    assert admin_cli("trust-policy", "show", name).code == EXIT_NOT_FOUND


def test_create_from_a_yaml_file(admin_cli: Cli, tmp_path: Path) -> None:
    name = unique("k8s")
    path = tmp_path / "policy.yaml"
    path.write_text(
        "issuer: https://kubernetes.example.test\n"
        "audiences: [dockit]\n"
        "conditions:\n"
        "  - {claim: kubernetes.io/namespace, value: ci}\n"
        "grants:\n"
        "  - pattern: k8s/${claim.kubernetes.io/serviceaccount/name}/**\n"
        "    actions: [pull, push]\n"
    )
    result = admin_cli("trust-policy", "create", name, "--file", str(path), "-o", "json")
    assert result.code == EXIT_OK, result
    assert result.json()["grants"][0]["actions"] == ["pull", "push"]
    assert result.json()["name"] == name


def test_bad_input_exits_with_usage_conflict_or_not_found(admin_cli: Cli, tmp_path: Path) -> None:
    name = unique("gh")
    jwks = jwks_file(tmp_path)
    create(admin_cli, name, jwks)
    assert admin_cli(
        "trust-policy", "create", name, "--issuer", ISSUER, "--audience", "d", "--grant", "x:pull"
    ).code == (EXIT_CONFLICT)
    hs = admin_cli(
        "trust-policy", "create", unique("x"), "--issuer", ISSUER, "--audience", "d",
        "--algorithm", "HS256",
    )  # fmt: skip
    assert hs.code == EXIT_USAGE, hs
    assert "algorithms" in hs.stderr
    bad_condition = admin_cli(
        "trust-policy", "create", unique("x"), "--issuer", ISSUER, "--audience", "d",
        "--condition", "no-equals-sign",
    )  # fmt: skip
    assert bad_condition.code == EXIT_USAGE
    assert "CLAIM=VALUE" in bad_condition.stderr
    assert admin_cli("trust-policy", "create", unique("x"), "--issuer", ISSUER).code == EXIT_USAGE
    assert admin_cli("trust-policy", "update", unique("nobody"), "--leeway", "5").code == (
        EXIT_NOT_FOUND
    )


def test_explain_claims_and_a_token(admin_cli: Cli, tmp_path: Path) -> None:
    name = unique("gh")
    create(admin_cli, name, jwks_file(tmp_path))
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({**CLAIMS, "ref": "refs/tags/v1"}))
    result = admin_cli("explain", "--federated", name, "--claims", str(claims))
    assert result.code == EXIT_OK, result
    head, conditions, grants = result.stdout.split("\n\n")
    assert "conditions:     NOT all met" in head
    assert [line.split() for line in conditions.splitlines()] == [
        ["CLAIM", "MUST", "MET"],
        ["repository_owner", "equal", "acme", "yes"],
        ["ref", "match", "refs/heads/*", "no"],
    ]
    assert grants.splitlines()[1].split() == ["ci/${claim.repository}/**", "push", "ci/acme/app/**"]

    token = admin_cli(
        "explain", "--federated", name, "--token", "-", "-o", "json", stdin=oidc_token() + "\n"
    )
    assert token.code == EXIT_OK, token
    answer = token.json()
    assert answer["matched"] is True
    assert answer["token"]["verified"] is True
    assert answer["token"]["sub"] == CLAIMS["sub"]
    assert admin_cli("explain", "--federated", name).code == EXIT_USAGE
    assert admin_cli("explain", "alice", "--claims", str(claims)).code == EXIT_USAGE


def test_audit_shows_a_federated_logins_issuer_sub_and_jti(
    admin_cli: Cli, dockit: DockitServer, tmp_path: Path
) -> None:
    name = unique("gh")
    create(admin_cli, name, jwks_file(tmp_path))
    jti = unique("run")
    answer = dockit.token(
        "registry.test", ["repository:ci/acme/app/web:push"], creds=(name, oidc_token(jti=jti))
    )
    assert answer.status == 200, answer
    dockit.audit_events(f"kind=token&actor=federation:{name}", at_least=1)  # written in batches
    result = admin_cli("audit", "--actor", f"federation:{name}", "--kind", "token")
    assert result.code == EXIT_OK, result
    (row,) = [line for line in result.stdout.splitlines() if jti in line]
    assert f"federation:{name}" in row
    assert f"[federation iss={ISSUER} sub={CLAIMS['sub']} jti={jti}]" in row
    made = admin_cli("audit", "--action", "trust_policy.create", "--target", f"trust-policy:{name}")
    assert made.code == EXIT_OK, made
    assert f"trust-policy:{name}" in made.stdout


def test_a_policy_that_acts_as_a_robot(admin_cli: Cli, make_user: MakeUser, tmp_path: Path) -> None:
    robot, name = unique("pusher"), unique("gh")
    owner = make_user()
    made = admin_cli("robot", "create", robot, "--owner", f"user:{owner}", "--expires-in", "30d")
    assert made.code == EXIT_OK, made
    assert admin_cli("grant", f"robot:{robot}", "repository:builds/**:push").code == EXIT_OK
    missing = admin_cli(
        "trust-policy", "create", name, "--issuer", ISSUER, "--audience", "dockit",
        "--robot", unique("nobody"),
    )  # fmt: skip
    assert missing.code == EXIT_USAGE, missing
    assert "does not exist" in missing.stderr

    path = tmp_path / "policy.yaml"
    path.write_text(
        f"issuer: {ISSUER}\naudiences: [dockit]\nalgorithms: [ES256]\n"
        f"conditions:\n  - {{claim: repository, value: acme/app}}\nrobot: {robot}\n"
    )
    created = admin_cli(
        "trust-policy", "create", name, "--file", str(path), "--static-jwks",
        str(jwks_file(tmp_path)), "-o", "json",
    )  # fmt: skip
    assert created.code == EXIT_OK, created
    assert (created.json()["robot"], created.json()["grants"]) == (robot, [])
    shown = admin_cli("trust-policy", "show", name)
    assert f"acts as:            robot:{robot} (its grants at each login)" in shown.stdout
    listed = admin_cli("trust-policy", "list")
    assert any(
        line.split()[:4] == [name, ISSUER, "1", f"robot:{robot}"]
        for line in listed.stdout.splitlines()
    )

    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(CLAIMS))
    explained = admin_cli("explain", "--federated", name, "--claims", str(claims))
    assert explained.code == EXIT_OK, explained
    head, _, grants = explained.stdout.split("\n\n")
    assert f"acts as:        robot:{robot} (usable)" in head
    assert [line.split() for line in grants.splitlines()] == [
        ["SUBJECT", "TYPE", "PATTERN", "ACTIONS"],
        [f"robot:{robot}", "repository", "builds/**", "push"],
    ]

    templated = admin_cli("trust-policy", "update", name, "--grant", "ci/*:pull", "-o", "json")
    assert templated.code == EXIT_OK, templated
    assert (templated.json()["robot"], len(templated.json()["grants"])) == (None, 1)
    again = admin_cli("trust-policy", "update", name, "--robot", robot, "-o", "json")
    assert again.code == EXIT_OK, again
    assert (again.json()["robot"], again.json()["grants"]) == (robot, [])

    assert admin_cli("robot", "disable", robot).code == EXIT_OK
    disabled = admin_cli("explain", "--federated", name, "--claims", str(claims))
    assert "NOT usable: federated token refused: the robot account is disabled" in disabled.stdout
