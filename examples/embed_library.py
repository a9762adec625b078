"""Issue registry tokens from your own Python code, with your own user source.

Dockit's library needs two things: a store (grants, keys, the audit log: here the
in-memory backend) and, if users do not live in that store, something that says who a
user is (an Authenticator); :func:`libdockit.assemble` wires the rest. Here users come
from a plain dict of API keys — replace it with your database, SSO or whatever you have.
Changes go through the assembled AdminService, which checks them and records each one, with
who made it, in the audit log, as the Admin API's changes are.
Run it: ``python examples/embed_library.py``.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from libdockit import (
    Actor,
    Identity,
    MemoryBackend,
    Options,
    Secret,
    TokenRequest,
    assemble,
    ensure_active_key,
)

#: Who makes this app's changes, in the audit log.
SETUP = Actor.system("embed-example")


class ApiKeyUsers:
    """An Authenticator: API keys from your own system; the team decides the groups."""

    def __init__(self, keys: dict[str, tuple[str, str]]) -> None:
        self._keys = keys  # username -> (api key, team)

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        entry = self._keys.get(username)
        if entry is None or Secret(entry[0]) != password:
            return None
        return Identity(username=username, groups=(entry[1],), source="api-keys")


def main() -> dict[str, object]:
    store = MemoryBackend()
    ensure_active_key(store, now=datetime.now(UTC))
    dockit = assemble(
        store,
        # Users and groups live in the API-key system, not in the store: naming it as the
        # directory lets a grant name its groups (with a note) rather than be refused.
        Options(
            issuer="my-platform",
            token_lifetime=600,
            services=["registry.internal"],
            directory="api-keys",
        ),
        authenticator=ApiKeyUsers({"ci-payments": ("k-123", "payments")}),
    )
    admin = dockit.admin
    admin.add_grant_from_scope("group:payments", "repository:payments/**:pull,push", actor=SETUP)
    admin.add_grant_from_scope("authenticated", "repository:base/*:pull", actor=SETUP)
    service = dockit.tokens
    # One call answers a token request: log in, decide, sign, and record the decision.
    outcome = service.handle(
        TokenRequest(
            service="registry.internal",
            scopes=["repository:payments/api:pull,push repository:base/python:push,pull"],
            username="ci-payments",
            password=Secret("k-123"),
        )
    )

    payload = outcome.token.token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    print(json.dumps({"sub": claims["sub"], "access": claims["access"]}, indent=2))
    print("registry bundle:\n" + service.keys.bundle_pem().decode().splitlines()[0] + " ...")
    assert dockit.auditor is not None
    print("audit log:")
    for event in reversed(dockit.auditor.query(kind="admin").items):
        scope = (event.after or {}).get("scope")
        print(f"  {event.actor} {event.action} {event.target} {scope}")
    return claims


if __name__ == "__main__":
    main()
