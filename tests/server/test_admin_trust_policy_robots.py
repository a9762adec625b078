"""/api/v1/trust-policies with ``robot``: a policy that names an existing robot account is
made, shown and explained with the robot's grants; one that names a missing robot, or both
a robot and grants, is refused by field with nothing changed; and a workload's token acts
with the robot's grants through /v2/token until the robot is disabled (401)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
from falcon.testing import TestClient

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.keys.ring import ensure_active_key

from .conftest import Api, assert_error, basic
from .test_admin_trust_policies import CLAIMS, FIELDS, oidc_token

ROBOT_POLICY: dict[str, Any] = {**FIELDS, "grants": [], "robot": "ci-pusher"}


def make_robot(api: Api) -> None:
    made = api.post(
        "/robots", json={"name": "ci-pusher", "owner": "user:alice", "expires_in": 86400}
    )
    assert made.status_code == 201, made.text
    granted = api.post(
        "/grants",
        json={
            "subject": "robot:ci-pusher",
            "resource_type": "repository",
            "pattern": "builds/**",
            "actions": ["push"],
        },
    )
    assert granted.status_code == 201, granted.text


def test_a_policy_naming_a_robot_is_made_and_shown(api: Api, backend: MemoryBackend) -> None:
    make_robot(api)
    made = api.post("/trust-policies", json={"name": "gh-robot", **ROBOT_POLICY})
    assert made.status_code == 201, made.text
    assert (made.json["robot"], made.json["grants"]) == ("ci-pusher", [])
    assert api.get("/trust-policies/gh-robot").json == made.json
    assert backend.get_trust_policy("gh-robot").robot == "ci-pusher"
    event = backend.query_events(kind="admin", action="trust_policy.create").items[0]
    assert event.after is not None
    assert event.after["robot"] == "ci-pusher"


def test_a_missing_robot_or_both_kinds_of_grant_are_refused(
    api: Api, backend: MemoryBackend
) -> None:
    missing = api.post("/trust-policies", json={"name": "gh-robot", **ROBOT_POLICY})
    entry = assert_error(missing, 400, "INVALID_FIELD", "robot")
    assert "robot:ci-pusher does not exist" in entry["message"]
    assert "dockit robot create ci-pusher" in entry["message"]
    make_robot(api)
    both = api.post(
        "/trust-policies", json={"name": "gh-robot", **ROBOT_POLICY, "grants": FIELDS["grants"]}
    )
    assert "not both" in assert_error(both, 400, "INVALID_FIELD", "robot")["message"]
    api.post("/trust-policies", json={"name": "gh", **FIELDS})
    switched = api.put("/trust-policies/gh", json={**ROBOT_POLICY, "robot": "nobody"})
    assert_error(switched, 400, "INVALID_FIELD", "robot")
    assert [p.name for p in backend.list_trust_policies().items] == ["gh"]
    assert backend.get_trust_policy("gh").robot is None
    assert backend.query_events(kind="admin", action="trust_policy.update").total == 0


def test_explain_shows_the_robots_grants(api: Api) -> None:
    make_robot(api)
    api.post("/trust-policies", json={"name": "gh-robot", **ROBOT_POLICY})
    answer = api.post("/trust-policies/gh-robot/explain", json={"claims": CLAIMS})
    assert answer.status_code == 200, answer.text
    assert answer.json["matched"] is True
    assert answer.json["robot"] == {
        "name": "ci-pusher",
        "usable": True,
        "refusal": None,
        "grants": [
            {
                "subject": "robot:ci-pusher",
                "resource_type": "repository",
                "pattern": "builds/**",
                "actions": ["push"],
            }
        ],
        "token_lifetime": None,
    }


def test_a_workloads_token_acts_as_the_robot_until_it_is_disabled(
    api: Api, client: TestClient, backend: MemoryBackend
) -> None:
    ensure_active_key(backend, now=datetime.now(UTC))
    make_robot(api)
    api.post("/trust-policies", json={"name": "gh-robot", **ROBOT_POLICY})

    def token_request() -> Any:
        return client.simulate_get(
            "/v2/token",
            params={"service": "registry.test", "scope": "repository:builds/app:push"},
            headers=basic("gh-robot", oidc_token()),
        )

    answer = token_request()
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json["token"], options={"verify_signature": False})
    assert claims["sub"] == "federation:gh-robot"
    assert claims["access"][0]["actions"] == ["push"]
    assert api.patch("/robots/ci-pusher", json={"enabled": False}).status_code == 200
    refused = token_request()
    entry = assert_error(refused, 401, "UNAUTHORIZED")
    assert "the robot account is disabled" in entry["message"]
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
