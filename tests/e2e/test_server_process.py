"""``dockit api-server`` as a process: first admin, restarts, bad settings, parallel load and
the signing key's persistence.

Each test starts its own server on its own SQLite file (under a second each); the last one
also starts a docker-registry to show that the key kept across a restart is the one the
registry, started with the first run's bundle, still trusts.
"""

from __future__ import annotations

import base64
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from tests.e2e.conftest import SERVICE, OciImage, unique, write_bundle
from tests.support import skopeo
from tests.support.dockit import DockitServer, base_env, dockit_command
from tests.support.procs import ManagedProcess, free_port, port_open, wait_until
from tests.support.registry import Registry
from tests.support.verifier import libtrust_key_id, verify_token

GENERATED = re.compile(r"Created the first admin 'admin' with the password (\S+)\n")
CREATED = "Created the first admin"


def bundle_kids(pem: bytes) -> list[str]:
    return [libtrust_key_id(cert.public_key()) for cert in x509.load_pem_x509_certificates(pem)]


def jwt_access(token: str) -> list[str]:
    """The actions of the single access entry of ``token`` (claims read unverified)."""
    segment = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    actions: list[str] = claims["access"][0]["actions"]
    return actions


def assert_no_traceback(server: DockitServer) -> None:
    log = server.all_logs()
    assert "Traceback" not in log, log[-6000:]


def test_first_start_creates_the_admin_from_the_environment(tmp_path: Path) -> None:
    password = unique("chosen-admin-pw")
    with DockitServer(tmp_path, admin_password=password) as server:
        users = server.list_users()
        assert [(u["username"], u["admin"], u["enabled"]) for u in users] == [("admin", True, True)]
        assert server.admin("GET", "/users", creds=("admin", "wrong")).status == 401
        created = server.create_user(unique("someone"), unique("pw"))
        assert created["admin"] is False
        assert CREATED in server.stderr()
        assert GENERATED.search(server.log()) is None
        assert password not in server.log()
        assert_no_traceback(server)


def test_generated_admin_password_is_printed_once_on_stderr_and_works(tmp_path: Path) -> None:
    server = DockitServer(tmp_path, admin_password=None)
    with server:
        match = GENERATED.search(server.stderr())
        assert match is not None, server.log()
        generated = match.group(1)
        assert len(generated) >= 16
        assert server.stdout().count(generated) == 0
        assert server.stderr().count(generated) == 1
        server.admin_password = generated
        assert [u["username"] for u in server.list_users()] == ["admin"]
        assert server.admin("GET", "/users", creds=("admin", generated + "x")).status == 401

        # Second start, same database; another admin name and a password are now set, and
        # neither may create a second admin or print anything about one.
        server.restart(
            extra_env={"DOCKIT_ADMIN_USERNAME": "other-admin", "DOCKIT_ADMIN_PASSWORD": "pw-2"}
        )
        assert server.runs == 2
        assert CREATED not in server.log()
        assert generated not in server.log()
        assert [u["username"] for u in server.list_users()] == ["admin"]
        assert server.admin("GET", "/users", creds=("other-admin", "pw-2")).status == 401
        assert_no_traceback(server)
    assert server.all_logs().count(generated) == 1


def test_explicit_password_is_not_printed_and_not_reset_by_a_restart(tmp_path: Path) -> None:
    with DockitServer(tmp_path, admin_password="first-pw") as server:
        server.restart(extra_env={"DOCKIT_ADMIN_PASSWORD": "second-pw"})
        assert CREATED not in server.log()
        # The stored admin keeps the password it was created with.
        assert server.admin("GET", "/users", creds=("admin", "first-pw")).status == 200
        assert server.admin("GET", "/users", creds=("admin", "second-pw")).status == 401
        assert "first-pw" not in server.all_logs()
        assert "second-pw" not in server.all_logs()


@dataclass(frozen=True)
class Exit:
    returncode: int | None  # None: it was still running (and then stopped)
    output: str
    seconds: float


def run_until_exit(
    args: list[str], env: dict[str, str], workdir: Path, *, port: int, timeout: float
) -> Exit:
    """Run ``dockit ARGS`` until it exits; stop it as soon as it serves on ``port`` instead.

    Never waits longer than ``timeout``; whatever is left is stopped by process group.
    """
    started = time.monotonic()
    log_path = workdir / "output.log"
    process = ManagedProcess([*dockit_command(), *args], log_path=log_path, env=env, cwd=workdir)
    try:
        wait_until(
            lambda: not process.alive() or port_open(port),
            timeout=timeout,
            what="dockit to exit",
        )
    except TimeoutError:
        pass
    finally:
        elapsed = time.monotonic() - started
        returncode = process.process.poll()
        process.stop()
    return Exit(returncode, log_path.read_text(errors="replace"), elapsed)


BAD_SETTINGS = [
    pytest.param({"DOCKIT_TOKEN_LIFETIME": "5"}, [], "token.lifetime", id="env-token-lifetime"),
    pytest.param({"DOCKIT_WORKERS": "0"}, [], "server.workers", id="env-workers-0"),
    pytest.param({"DOCKIT_KEY_ALGORITHM": "HS256"}, [], "keys.algorithm", id="env-algorithm"),
    pytest.param(
        {"DOCKIT_DATABASE_URL": "mysql://dockit:db-secret@db/dockit"},
        [],
        "database.url",
        id="env-database-url",
    ),
    pytest.param(
        {}, ["--database-url", "mysql://dockit:db-secret@db/x"], "database.url", id="flag-db-url"
    ),
    pytest.param({}, ["--bind", "no-port-here"], "server.bind", id="flag-bind"),
    pytest.param({}, ["--workers", "0"], "server.workers", id="flag-workers-0"),
    pytest.param({}, ["--workers", "-1"], "server.workers", id="flag-workers-negative"),
]


@pytest.mark.parametrize(("env_changes", "flags", "key"), BAD_SETTINGS)
def test_a_bad_setting_stops_start_up_naming_its_key(
    tmp_path: Path, env_changes: dict[str, str], flags: list[str], key: str
) -> None:
    port = free_port()
    env = base_env(tmp_path)
    env.update(
        {
            "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path / 'dockit.db'}",
            "DOCKIT_ADMIN_PASSWORD": "admin-pw",
            **env_changes,
        }
    )
    args = ["api-server", "--bind", f"127.0.0.1:{port}", *flags]
    result = run_until_exit(args, env, tmp_path, port=port, timeout=15)
    assert result.returncode is not None, f"it started serving:\n{result.output[-3000:]}"
    assert result.returncode != 0, result.output
    assert key in result.output, result.output
    assert "Traceback" not in result.output, result.output
    assert "db-secret" not in result.output, "a database URL may hold a password"
    assert result.seconds < 15
    # Refused before anything was prepared: no first admin was created.
    assert CREATED not in result.output, result.output
    assert not port_open(port)


def test_parallel_requests_on_both_workers_never_fail(tmp_path: Path) -> None:
    """Token requests and Admin API writes in parallel on 2 workers over one SQLite file."""
    with DockitServer(tmp_path, workers=2) as server:
        server.create_user("reader", "reader-pw")

        def work(index: int) -> tuple[int, int, list[str]]:
            name = f"parallel-{index}"
            grant = server.admin(
                "POST", "/grants", {"subject": "user:reader", "scope": f"repository:{name}:pull"}
            )
            answer = server.token(
                SERVICE, [f"repository:{name}:pull,push"], ("reader", "reader-pw")
            )
            actions = jwt_access(answer.token) if answer.status == 200 else []
            return grant.status, answer.status, actions

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(work, range(24)))
        # Each grant, written through one worker, is seen at once by whichever answers next.
        assert results == [(201, 200, ["pull"])] * 24
        listed = server.admin("GET", "/grants?subject=user:reader&limit=100", expect=200).json()
        assert listed["total"] == 24
        assert_no_traceback(server)


def test_signing_key_survives_a_restart(tmp_path: Path) -> None:
    with DockitServer(tmp_path) as server:
        before = server.certs_pem()
        kids_before = bundle_kids(before)
        assert kids_before
        token_before = server.token(SERVICE).token

        server.restart()
        after = server.certs_pem()
        assert bundle_kids(after) == kids_before
        assert after == before
        token_after = server.token(SERVICE).token
        for token in (token_before, token_after):
            claims = verify_token(token, bundle_pem=before, issuer=server.issuer, service=SERVICE)
            assert claims["aud"] == SERVICE
        assert_no_traceback(server)


@pytest.mark.registry
def test_registry_keeps_accepting_tokens_after_a_restart(
    tmp_path: Path, oci_image: OciImage
) -> None:
    with DockitServer(tmp_path / "dockit", issuer="restart-issuer") as server:
        bundle = write_bundle(server, tmp_path / "certs.pem")
        user = (unique("restart"), unique("pw"))
        server.create_user(*user)
        server.grant(f"user:{user[0]}", f"repository:{user[0]}/*:pull,push")
        registry = Registry(
            realm=server.token_realm,
            rootcertbundle=bundle,
            service=SERVICE,
            issuer=server.issuer,
            workdir=tmp_path / "registry",
        )
        with registry:
            repo = f"{user[0]}/app"
            pushed = skopeo.push(oci_image.layout, oci_image.tag, registry.host, repo, creds=user)
            assert pushed.ok, pushed
            server.restart()
            # The registry was not restarted: it still trusts only the bundle of the first run.
            again = skopeo.push(
                oci_image.layout,
                oci_image.tag,
                registry.host,
                repo,
                creds=user,
                dest_tag="after-restart",
            )
            assert again.ok, f"{again}\nregistry log:\n{registry.log()[-3000:]}"
            inspected = skopeo.inspect(registry.host, repo, "after-restart", creds=user)
            assert inspected.ok, inspected
            assert inspected.json()["Digest"] == oci_image.digest
        assert_no_traceback(server)
