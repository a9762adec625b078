"""``docker login`` with identity tokens, end to end: the real docker CLI (28, no daemon),
docker-registry 2.8.2 sending it to the real ``dockit api-server``, and skopeo.

The registry here speaks HTTPS with a self-signed certificate: ``docker login`` to a
loopback registry skips verification, and ``docker manifest inspect --insecure`` insists on
HTTPS. What docker 28 sends, as measured here:

* ``docker login HOST``: ``GET /v2/token?account=U&client_id=docker&offline_token=true&
  service=S`` with Basic credentials; it stores the answer's ``refresh_token`` as
  ``identitytoken`` (and ``auth`` = base64 of ``U:``, no password).
* later token requests with a stored identity token (the CLI's own ``docker manifest
  inspect``, or the daemon): ``POST /v2/token`` with the form ``client_id``,
  ``grant_type=refresh_token``, ``refresh_token``, ``scope``, ``service``. The CLI sends
  ``client_id=registry-client``, the daemon ``client_id=docker``; :func:`moby_refresh`
  sends the daemon's form.

containerd POSTs first (``client_id=containerd-client``) and falls back to ``GET`` on 400,
401, 404 (and 405 with a username); :func:`containerd_fetch` follows that logic.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockit_server.client.errors import EXIT_DENIED, EXIT_OK
from tests.client.helpers import run_cli, subprocess_env
from tests.e2e.conftest import SERVICE, OciImage, unique
from tests.support import skopeo
from tests.support.docker_cli import docker_env, docker_login, read_docker_config
from tests.support.dockit import DockitServer, Response, http_request, post_token_form
from tests.support.dockit import moby_refresh as daemon_refresh
from tests.support.procs import require_binary
from tests.support.registry import Registry, self_signed_tls

pytestmark = [pytest.mark.registry, pytest.mark.docker_cli]

FORM = "application/x-www-form-urlencoded"
CONTAINERD_CLIENT = "containerd-client"


@dataclass(frozen=True)
class Account:
    name: str
    password: str

    @property
    def creds(self) -> tuple[str, str]:
        return (self.name, self.password)

    @property
    def repo(self) -> str:
        return f"{self.name}/app"


@pytest.fixture(scope="module")
def tls_registry(
    dockit: DockitServer, bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """docker-registry over HTTPS (self-signed), sending clients to Dockit."""
    workdir = tmp_path_factory.mktemp("tls-registry")
    with Registry(
        realm=dockit.token_realm,
        rootcertbundle=bundle,
        service=SERVICE,
        issuer=dockit.issuer,
        workdir=workdir,
        tls=self_signed_tls(workdir / "tls"),
    ) as registry:
        yield registry


@pytest.fixture(autouse=True)
def no_server_errors(dockit: DockitServer) -> Iterator[None]:
    yield
    assert dockit.running(), dockit.log()[-6000:]
    assert "Traceback" not in dockit.all_logs(), dockit.all_logs()[-6000:]


def new_account(dockit: DockitServer, prefix: str, *, admin: bool = False) -> Account:
    account = Account(unique(prefix), unique("pw"))
    dockit.create_user(account.name, account.password, admin)
    return account


def login(registry: Registry, account: Account, config_dir: Path) -> str:
    """``docker login``; returns the identity token it stored."""
    result = docker_login(registry.host, account.name, account.password, config_dir)
    assert result.returncode == 0, f"{result.stderr}\nregistry log:\n{registry.log()[-3000:]}"
    token = read_docker_config(config_dir)["auths"][registry.host]["identitytoken"]
    assert isinstance(token, str)
    return token


def refresh_tokens(dockit: DockitServer, account: Account) -> list[dict[str, Any]]:
    path = f"/users/{account.name}/refresh-tokens"
    items: list[dict[str, Any]] = dockit.admin("GET", path, expect=200).json()["items"]
    return items


def post_form(dockit: DockitServer, fields: dict[str, str], content_type: str = FORM) -> Response:
    return post_token_form(dockit, fields, content_type)


def moby_refresh(dockit: DockitServer, token: str, scope: str) -> Response:
    return daemon_refresh(dockit, token, scope, SERVICE)


def manifest_inspect(registry: Registry, config_dir: Path, repo: str, tag: str) -> Any:
    """``docker manifest inspect --insecure``: the CLI fetches its own registry token."""
    return subprocess.run(
        [
            require_binary("docker"),
            "manifest",
            "inspect",
            "--insecure",
            f"{registry.host}/{repo}:{tag}",
        ],
        env=docker_env(config_dir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def registry_accepts(registry: Registry, access_token: str, account: Account, tag: str) -> bool:
    """Whether the registry lets skopeo read the manifest with this bearer token."""
    return skopeo.inspect(registry.host, account.repo, tag, creds=None, token=access_token).ok


def push_image(registry: Registry, image: OciImage, account: Account) -> None:
    pushed = skopeo.push(image.layout, image.tag, registry.host, account.repo, creds=account.creds)
    assert pushed.ok, f"{pushed}\nregistry log:\n{registry.log()[-3000:]}"


# -- docker login -----------------------------------------------------------------------------


def test_docker_login_stores_an_identity_token(
    dockit: DockitServer, tls_registry: Registry, tmp_path: Path
) -> None:
    account = new_account(dockit, "login")
    config_dir = tmp_path / "docker"
    token = login(tls_registry, account, config_dir)

    entry = read_docker_config(config_dir)["auths"][tls_registry.host]
    assert set(entry) == {"auth", "identitytoken"}
    assert base64.b64decode(entry["auth"]).decode() == f"{account.name}:"  # no password
    assert token.startswith("dkr_")
    assert account.password not in (config_dir / "config.json").read_text()

    (stored,) = refresh_tokens(dockit, account)
    assert (stored["service"], stored["client_id"]) == (SERVICE, "docker")
    assert stored["last_used_at"] is None
    assert stored["expires_at"] is not None
    logs = dockit.all_logs() + tls_registry.log()
    assert token not in logs
    assert account.password not in logs


def test_the_cli_and_the_daemon_get_current_grants(
    dockit: DockitServer, tls_registry: Registry, oci_image: OciImage, tmp_path: Path
) -> None:
    account = new_account(dockit, "current")
    push_grant = dockit.grant(f"user:{account.name}", f"repository:{account.name}/*:pull,push")
    push_image(tls_registry, oci_image, account)
    config_dir = tmp_path / "docker"
    token = login(tls_registry, account, config_dir)

    # The docker CLI itself redeems the identity token (POST grant_type=refresh_token).
    inspected = manifest_inspect(tls_registry, config_dir, account.repo, oci_image.tag)
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["schemaVersion"] == 2
    (stored,) = refresh_tokens(dockit, account)
    assert stored["last_used_at"] is not None  # used by the CLI's POST, not by the login

    # The daemon's request, between grant changes.
    scope = f"repository:{account.repo}:pull"
    answer = moby_refresh(dockit, token, scope)
    assert answer.status == 200, answer
    body = answer.json()
    assert set(body) == {"access_token", "scope", "expires_in", "issued_at"}
    assert body["scope"] == scope
    assert registry_accepts(tls_registry, body["access_token"], account, oci_image.tag)

    dockit.revoke(push_grant)
    answer = moby_refresh(dockit, token, scope)
    assert answer.status == 200, answer
    assert answer.json()["scope"] == ""
    assert not registry_accepts(tls_registry, answer.json()["access_token"], account, oci_image.tag)
    refused = manifest_inspect(tls_registry, config_dir, account.repo, oci_image.tag)
    assert refused.returncode != 0, refused.stdout

    dockit.grant(f"user:{account.name}", f"repository:{account.repo}:pull")
    answer = moby_refresh(dockit, token, scope)
    assert answer.json()["scope"] == scope
    assert registry_accepts(tls_registry, answer.json()["access_token"], account, oci_image.tag)
    again = manifest_inspect(tls_registry, config_dir, account.repo, oci_image.tag)
    assert again.returncode == 0, again.stderr
    assert len(refresh_tokens(dockit, account)) == 1  # redeeming never mints another


def test_a_password_change_refuses_the_identity_token(
    dockit: DockitServer, tls_registry: Registry, oci_image: OciImage, tmp_path: Path
) -> None:
    account = new_account(dockit, "changed")
    dockit.grant(f"user:{account.name}", f"repository:{account.name}/*:pull,push")
    push_image(tls_registry, oci_image, account)
    config_dir = tmp_path / "docker"
    token = login(tls_registry, account, config_dir)
    scope = f"repository:{account.repo}:pull"
    assert moby_refresh(dockit, token, scope).status == 200

    new_password = unique("new-pw-1234")
    path = f"/users/{account.name}/password"
    dockit.admin("PUT", path, {"password": new_password}, expect=204)

    refused = moby_refresh(dockit, token, scope)
    assert refused.status == 401, refused
    assert refused.error_codes() == ["UNAUTHORIZED"]
    assert token not in refused.body.decode()
    assert refresh_tokens(dockit, account) == []
    cli = manifest_inspect(tls_registry, config_dir, account.repo, oci_image.tag)
    assert cli.returncode != 0, cli.stdout
    assert token not in cli.stderr

    fresh = login(tls_registry, Account(account.name, new_password), tmp_path / "again")
    assert fresh != token
    assert moby_refresh(dockit, fresh, scope).json()["scope"] == scope


# -- the admin CLI ------------------------------------------------------------------------------


def admin_cli(dockit: DockitServer, registry: Registry, config_dir: Path, *args: str) -> Any:
    env = subprocess_env(config_dir.parent, DOCKER_CONFIG=str(config_dir))
    command = [*args, "--registry", registry.host, "--url", dockit.url]
    return run_cli(command, env=env, cwd=config_dir.parent)


def test_the_admin_cli_uses_the_identity_token(
    dockit: DockitServer, tls_registry: Registry, tmp_path: Path
) -> None:
    admin = new_account(dockit, "admin", admin=True)
    config_dir = tmp_path / "docker"
    token = login(tls_registry, admin, config_dir)

    listed = admin_cli(dockit, tls_registry, config_dir, "user", "list", "-o", "json")
    assert listed.code == EXIT_OK, listed
    assert admin.name in {user["username"] for user in listed.json()}

    dockit.admin("PUT", f"/users/{admin.name}/password", {"password": unique("pw")}, expect=204)
    refused = admin_cli(dockit, tls_registry, config_dir, "user", "list")
    assert refused.code == EXIT_DENIED, refused
    assert token not in refused.stdout + refused.stderr


# -- containerd ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    method: str
    status: int
    body: Any


def containerd_fetch(
    dockit: DockitServer, scopes: list[str], username: str, secret: str
) -> list[Exchange]:
    """containerd's authorizer: POST the OAuth form; on 400, 401, 404 (or 405 with a
    username) fall back to GET with Basic credentials. Returns every exchange."""
    form = {"client_id": CONTAINERD_CLIENT, "scope": " ".join(scopes), "service": SERVICE}
    if username:
        form |= {"grant_type": "password", "username": username, "password": secret}
    else:
        form |= {"grant_type": "refresh_token", "refresh_token": secret}
    posted = post_form(dockit, form, f"{FORM}; charset=utf-8")
    exchanges = [Exchange("POST", posted.status, posted.json())]
    if posted.status in (400, 401, 404) or (posted.status == 405 and username):
        query = urllib.parse.urlencode([("scope", s) for s in scopes] + [("service", SERVICE)])
        basic = base64.b64encode(f"{username}:{secret}".encode()).decode()
        got = http_request(
            f"{dockit.token_realm}?{query}", headers={"Authorization": f"Basic {basic}"}
        )
        exchanges.append(Exchange("GET", got.status, got.json()))
    return exchanges


def test_containerd_post_then_get_fallback(
    dockit: DockitServer, tls_registry: Registry, oci_image: OciImage, tmp_path: Path
) -> None:
    account = new_account(dockit, "containerd")
    dockit.grant(f"user:{account.name}", f"repository:{account.name}/*:pull,push")
    push_image(tls_registry, oci_image, account)
    scopes = [f"repository:{account.repo}:pull"]

    # A password: the POST answers, no fallback.
    (post,) = containerd_fetch(dockit, scopes, account.name, account.password)
    assert (post.method, post.status) == ("POST", 200)
    assert post.body["scope"] == scopes[0]
    assert registry_accepts(tls_registry, post.body["access_token"], account, oci_image.tag)

    # A wrong password: 401 on POST, and the GET fallback says the same.
    wrong = containerd_fetch(dockit, scopes, account.name, "not-the-password")
    assert [(e.method, e.status) for e in wrong] == [("POST", 401), ("GET", 401)]
    for exchange in wrong:
        assert exchange.body["errors"][0]["code"] == "UNAUTHORIZED"

    # An identity token (containerd sends it with an empty username).
    token = login(tls_registry, account, tmp_path / "docker")
    (refreshed,) = containerd_fetch(dockit, scopes, "", token)
    assert (refreshed.method, refreshed.status) == ("POST", 200)
    assert "refresh_token" not in refreshed.body
    assert registry_accepts(tls_registry, refreshed.body["access_token"], account, oci_image.tag)

    # The GET containerd falls back to takes the identity token too.
    query = urllib.parse.urlencode([("scope", scopes[0]), ("service", SERVICE)])
    basic = base64.b64encode(f":{token}".encode()).decode()
    got = http_request(f"{dockit.token_realm}?{query}", headers={"Authorization": f"Basic {basic}"})
    assert got.status == 200, got
    assert registry_accepts(tls_registry, got.json()["token"], account, oci_image.tag)

    # Revoked: refused by both.
    revoked = dockit.admin("DELETE", f"/users/{account.name}/refresh-tokens", expect=200)
    assert revoked.json() == {"username": account.name, "revoked": 1}
    refused = containerd_fetch(dockit, scopes, "", token)
    assert [(e.method, e.status) for e in refused] == [("POST", 401), ("GET", 401)]
    assert all(token not in json.dumps(e.body) for e in refused)
