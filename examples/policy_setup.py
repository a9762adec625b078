"""Set up a team's registry policy through the Admin API, idempotently.

Creates the users and groups, puts people in groups and adds the grants; anything that
exists already is left as it is (HTTP 409 is "already there"). Only the standard library is
used, so it runs anywhere Python does:

    DOCKIT_URL=http://127.0.0.1:4315 DOCKIT_USERNAME=admin DOCKIT_PASSWORD=... \\
        python examples/policy_setup.py
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from typing import Any

POLICY: dict[str, Any] = {
    "users": {"dana": "dana-initial-pw", "eli": "eli-initial-pw", "ci-bot": "ci-bot-pw-123"},
    "groups": {"web": ["dana", "eli"], "ci": ["ci-bot"]},
    "grants": [
        ("group:web", "repository:web/**:pull,push"),
        ("group:ci", "repository:**:pull"),
        ("group:ci", "repository:web/**:push"),
        ("authenticated", "repository:${user}/**:*"),
        ("anonymous", "repository:public/*:pull"),
    ],
}


class AdminApi:
    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/") + "/api/v1"
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=self.headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            error.close()
            return error.code, json.loads(raw) if raw else None

    def ensure(self, method: str, path: str, body: object = None) -> str:
        status, answer = self.call(method, path, body)
        if status in (200, 201, 204):
            return "created" if status == 201 else "ok"
        if status == 409:
            return "exists"
        raise SystemExit(f"{method} {path}: HTTP {status}: {answer}")


def apply(api: AdminApi) -> dict[str, str]:
    results = {}
    for name, password in POLICY["users"].items():
        results[f"user:{name}"] = api.ensure(
            "POST", "/users", {"username": name, "password": password}
        )
    for group, members in POLICY["groups"].items():
        results[f"group:{group}"] = api.ensure("POST", "/groups", {"name": group})
        for member in members:
            api.ensure("PUT", f"/groups/{group}/members/{member}")
    for subject, scope in POLICY["grants"]:
        results[f"{subject} {scope}"] = api.ensure(
            "POST", "/grants", {"subject": subject, "scope": scope}
        )
    return results


if __name__ == "__main__":
    api = AdminApi(
        os.environ.get("DOCKIT_URL", "http://127.0.0.1:4315"),
        os.environ.get("DOCKIT_USERNAME", "admin"),
        os.environ["DOCKIT_PASSWORD"],
    )
    for what, outcome in apply(api).items():
        print(f"{outcome:8} {what}")
