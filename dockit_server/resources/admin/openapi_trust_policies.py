"""The OpenAPI path items of the trust-policy routes (workload identity federation), kept
apart from :mod:`.openapi_doc`, which adds them to the document; written with
:mod:`.openapi_operations`."""

from __future__ import annotations

from typing import Any

from .openapi_operations import LOCATION, NO_CONTENT, ok, op, params


def trust_policy_paths() -> dict[str, dict[str, Any]]:
    """``/trust-policies``, ``/trust-policies/{name}`` and its ``/explain``."""
    return {
        "/trust-policies": {
            "get": op(
                "listTrustPolicies",
                "List trust policies",
                "federation",
                {"200": ok("A page of trust policies, by name.", "TrustPolicyList")},
            ),
            "post": op(
                "createTrustPolicy",
                "Create a trust policy",
                "federation",
                {"201": ok("The new trust policy.", "TrustPolicy", headers=LOCATION)},
                errors=("409",),
                body="TrustPolicyCreate",
                description="From its next login on, every instance accepts tokens of the "
                "issuer as the password of the policy's name.",
            ),
        },
        "/trust-policies/{name}": {
            "parameters": params("policyName"),
            "get": op(
                "getTrustPolicy",
                "Get a trust policy",
                "federation",
                {"200": ok("The trust policy.", "TrustPolicy")},
                errors=("404",),
            ),
            "put": op(
                "replaceTrustPolicy",
                "Replace every field of a trust policy",
                "federation",
                {"200": ok("The trust policy as it is now.", "TrustPolicy")},
                errors=("404",),
                body="TrustPolicyUpdate",
            ),
            "delete": op(
                "deleteTrustPolicy",
                "Delete a trust policy",
                "federation",
                NO_CONTENT,
                errors=("404",),
            ),
        },
        "/trust-policies/{name}/explain": {
            "parameters": params("policyName"),
            "post": op(
                "explainTrustPolicy",
                "Explain claims or a token under a trust policy",
                "federation",
                {
                    "200": ok(
                        "Each condition met or not, each grant as filled.", "FederatedExplanation"
                    )
                },
                errors=("404",),
                body="TrustPolicyExplain",
                description="Changes nothing. A token is verified against the issuer's keys; "
                "whether it verified is part of the answer (503 when the keys cannot be had).",
            ),
        },
    }
