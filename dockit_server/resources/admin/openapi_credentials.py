"""The OpenAPI path items of robot accounts and personal access tokens, kept apart from
:mod:`.openapi_doc`, which adds them to the document; written with
:mod:`.openapi_operations`."""

from __future__ import annotations

from typing import Any

from .openapi_operations import LOCATION, NO_CONTENT, ok, op, params
from .openapi_schemas import JSON, ref

SELF_SERVICE = (
    "For any user who logs in with their password (or refresh token); no admin flag needed. "
    "A robot's or personal access token's secret gets 403."
)


def credential_paths() -> dict[str, dict[str, Any]]:
    """``/tokens`` (a user's own), ``/users/{username}/tokens``, ``/robots`` and below."""
    return {
        "/users/{username}/tokens": {
            "parameters": params("username"),
            "get": op(
                "listUserPersonalAccessTokens",
                "List a user's personal access tokens",
                "tokens",
                {
                    "200": ok(
                        "A page of the user's tokens, newest first.", "PersonalAccessTokenList"
                    )
                },
                description="Never their secrets. An empty page for a user without tokens.",
            ),
        },
        "/tokens": {
            "get": op(
                "listOwnPersonalAccessTokens",
                "List your personal access tokens",
                "tokens",
                {"200": ok("A page of your tokens, newest first.", "PersonalAccessTokenList")},
                description=SELF_SERVICE,
            ),
            "post": op(
                "createPersonalAccessToken",
                "Make a personal access token for yourself",
                "tokens",
                {
                    "201": ok(
                        "The new token, with its secret: shown this once.",
                        "PersonalAccessTokenWithSecret",
                    )
                },
                body="TokenCreate",
                description=SELF_SERVICE + " Log in to a registry with your username and the "
                "secret; the token can do what you can at each use, narrowed to its scopes. 400 "
                "for an expiry beyond what an admin allows.",
            ),
        },
        "/tokens/{token_id}": {
            "parameters": params("patId"),
            "delete": op(
                "revokePersonalAccessToken",
                "Revoke a personal access token",
                "tokens",
                NO_CONTENT,
                errors=("404",),
                description=SELF_SERVICE + " Your own token; an admin may revoke anyone's. "
                "Another user's token is 404 to a user who is not an admin.",
            ),
        },
        "/robots": {
            "get": op(
                "listRobots",
                "List robot accounts",
                "robots",
                {"200": ok("A page of robots, newest first.", "RobotList")},
                description="`?owner=` keeps only that owner's robots.",
            ),
            "post": op(
                "createRobot",
                "Make a robot account",
                "robots",
                {
                    "201": ok(
                        "The new robot, with its secret: shown this once.",
                        "RobotWithSecret",
                        headers=LOCATION,
                    )
                },
                errors=("404", "409"),
                body="RobotCreate",
                description="Log in to a registry as `NAME` with the secret; grant it access "
                "with the subject `robot:NAME`. 400 for a missing expiry or one beyond what an "
                "admin allows; 404 for an owner that does not exist; 409 when a robot or a local "
                "user has the name.",
            ),
        },
        "/robots/{name}": {
            "parameters": params("robotName"),
            "get": op(
                "getRobot",
                "Get a robot account",
                "robots",
                {"200": ok("The robot.", "Robot")},
                errors=("404",),
            ),
            "patch": op(
                "updateRobot",
                "Enable or disable a robot account",
                "robots",
                {"200": ok("The updated robot.", "Robot")},
                errors=("404",),
                body="RobotUpdate",
                description="A disabled robot gets 401 at its next token request.",
            ),
            "delete": op(
                "deleteRobot",
                "Delete a robot account and its grants",
                "robots",
                NO_CONTENT,
                errors=("404",),
            ),
        },
        "/robots/{name}/secret": {
            "parameters": params("robotName"),
            "post": op(
                "rotateRobotSecret",
                "Give a robot account a new secret",
                "robots",
                {"200": ok("The robot, with its new secret: shown this once.", "RobotWithSecret")},
                errors=("404",),
                body="SecretRotate",
                description="The old secret stops working at once. Without a body the expiry "
                "stays (a robot that has expired needs a new one).",
            )
            | {
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": ref("schemas", "SecretRotate")}},
                }
            },
        },
    }
