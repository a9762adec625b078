"""Every example runs, as a user would run it, and does what its docstring says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from libdockit.backends.sql.backend import SqlBackend
from tests.support.dockit import DockitServer
from tests.support.procs import LOOPBACK, ManagedProcess, free_port, port_open
from tests.support.verifier import verify_token

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_example(name: str, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_embed_library() -> None:
    output = run_example("embed_library.py")
    claims = json.loads(output[: output.index("registry bundle:")])
    assert claims == {
        "sub": "ci-payments",
        "access": [
            {"type": "repository", "name": "payments/api", "actions": ["pull", "push"]},
            {"type": "repository", "name": "base/python", "actions": ["pull"]},
        ],
    }
    assert "-----BEGIN CERTIFICATE-----" in output
    # The app's changes, made through the AdminService, are in its audit log with their actor.
    audit = output[output.index("audit log:") :].splitlines()[1:]
    assert audit == [
        "  system:embed-example grant.create grant:1 repository:payments/**:pull,push",
        "  system:embed-example grant.create grant:2 repository:base/*:pull",
    ]


@pytest.fixture
def mounted_database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mounted.db'}"


@pytest.fixture
def mounted(tmp_path: Path, mounted_database: str) -> Iterator[str]:
    port = free_port()
    process = ManagedProcess(
        [sys.executable, str(EXAMPLES / "falcon_mount.py"), str(port), mounted_database],
        log_path=tmp_path / "example.log",
        cwd=ROOT,
    )
    try:
        process.wait_ready(lambda: port_open(port), timeout=30)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        process.stop()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
        error.close()
        return error.code, body


def test_falcon_mount(mounted: str, mounted_database: str) -> None:
    assert _get(mounted + "/hello") == (200, b'{"hello": "from your app"}')
    auth = {"Authorization": "Basic YWxpY2U6YWxpY2UtcHc="}  # alice:alice-pw
    status, body = _get(
        mounted + "/v2/token?service=registry.local&scope=repository:alice/app:push,pull", auth
    )
    assert status == 200
    _, bundle = _get(mounted + "/v2/certs/pem")
    claims = verify_token(
        json.loads(body)["token"], bundle_pem=bundle, issuer="dockit", service="registry.local"
    )
    assert claims["access"] == [
        {"type": "repository", "name": "alice/app", "actions": ["push", "pull"]}
    ]
    status, body = _get(
        mounted + "/v2/token?service=registry.local", {"Authorization": "Basic eDp5"}
    )
    assert status == 401
    assert json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"
    # The app made its user and grant through the AdminService: both are in the audit log
    # of its database, with the app as their actor and no password.
    store = SqlBackend(mounted_database)
    try:
        events = list(reversed(store.query_events(kind="admin").items))
    finally:
        store.close()
    assert [(e.actor, e.action, e.target) for e in events] == [
        ("system:falcon-mount-example", "user.create", "user:alice"),
        ("system:falcon-mount-example", "grant.create", "grant:1"),
    ]
    assert events[0].after is not None
    assert events[0].after["username"] == "alice"
    assert events[1].after is not None
    assert events[1].after["scope"] == "repository:${user}/**:*"
    assert "alice-pw" not in json.dumps([(e.before, e.after, e.detail) for e in events])


def test_policy_setup_is_idempotent(tmp_path: Path) -> None:
    with DockitServer(tmp_path / "dockit") as server:
        env = {
            "DOCKIT_URL": server.url,
            "DOCKIT_USERNAME": server.admin_username,
            "DOCKIT_PASSWORD": server.admin_creds[1],
        }
        first = run_example("policy_setup.py", env)
        assert first.count("created") == 10
        second = run_example("policy_setup.py", env)
        assert "created" not in second
        assert second.count("exists") == 10
        status, answer, _ = server.token(
            "registry.test",
            ["repository:web/site:push,pull", "repository:dana/x:delete"],
            ("dana", "dana-initial-pw"),
        )
        assert status == 200
        claims = verify_token(
            answer["token"],
            bundle_pem=server.certs_pem(),
            issuer=server.issuer,
            service="registry.test",
        )
        assert [entry["actions"] for entry in claims["access"]] == [["push", "pull"], ["delete"]]
