"""LDAP end to end: the real ``dockit api-server`` configured for a real slapd (a TOML file
passed with DOCKIT_CONFIG), docker-registry 2.8.2 and skopeo.

A directory user pushes to a repository granted to their directory group (the grant is made
through the Admin API as ``group:NAME``); removing them from the group in the directory
(ldapmodify) denies the next push once the group cache (1 s here) has expired; stopping slapd
makes ``/v2/token`` answer 503, never 401, and the first request after slapd is back succeeds
without restarting Dockit. The password cache is off here (``password_cache_seconds = 0``),
so every login binds and an outage shows at once; tests/backends/test_ldap.py covers what
the cache changes. Each test adds its own directory users and groups.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import ISSUER, SERVICE, TOKEN_LIFETIME, OciImage
from tests.support import skopeo
from tests.support.access_credentials import CredentialStore
from tests.support.docker_cli import docker_login, read_docker_config
from tests.support.dockit import DockitServer, Response, moby_refresh
from tests.support.jwt_parts import jwt_claims
from tests.support.registry import Registry
from tests.support.skopeo import SkopeoResult
from tests.support.slapd import (
    GROUPS_DN,
    PEOPLE_DN,
    SERVICE_DN,
    SERVICE_PASSWORD,
    Slapd,
    group_dn,
    user_dn,
)

pytestmark = [pytest.mark.registry, pytest.mark.ldap]

DENIED = "denied: requested access to the resource is denied"
GROUP_CACHE_SECONDS = 1
Creds = tuple[str, str]


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with Slapd(tmp_path_factory.mktemp("slapd")) as server:
        yield server


def dockit_toml(slapd: Slapd, workdir: Path) -> Path:
    password_file = workdir / "ldap-bind-password"
    password_file.write_text(SERVICE_PASSWORD + "\n")
    config = workdir / "dockit.toml"
    config.write_text(
        f"""
[ldap]
urls = ["{slapd.ldaps_url}"]
ca_file = "{slapd.pki.ca_file}"
bind_dn = "{SERVICE_DN}"
bind_password_file = "{password_file}"
admin_group = "dockit-admins"
group_cache_seconds = {GROUP_CACHE_SECONDS}
password_cache_seconds = 0
connect_timeout = 2
receive_timeout = 5

[ldap.user_search]
base_dn = "{PEOPLE_DN}"
filter = "(objectClass=inetOrgPerson)"
username_attributes = ["uid"]

[ldap.group_search]
base_dn = "{GROUPS_DN}"
user_matchers = [
  {{ user_attribute = "DN", group_attribute = "member" }},
  {{ user_attribute = "uid", group_attribute = "memberUid" }},
]
nested = true
"""
    )
    return config


@pytest.fixture(scope="module")
def dockit(slapd: Slapd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockitServer]:
    """The real ``dockit api-server`` (2 workers) with local users, then the directory."""
    workdir = tmp_path_factory.mktemp("dockit")
    server = DockitServer(
        workdir,
        services=(SERVICE,),
        issuer=ISSUER,
        token_lifetime=TOKEN_LIFETIME,
        extra_env={"DOCKIT_CONFIG": str(dockit_toml(slapd, workdir))},
    )
    with server:
        yield server


@pytest.fixture(autouse=True)
def no_server_errors(dockit: DockitServer) -> Iterator[None]:
    yield
    log = dockit.log()
    assert dockit.running(), log[-6000:]
    assert "Traceback" not in log, log[-6000:]


@dataclass(frozen=True)
class DirectoryUser:
    name: str
    password: str
    group: str

    @property
    def creds(self) -> Creds:
        return (self.name, self.password)

    @property
    def dn(self) -> str:
        return user_dn(self.name)


@pytest.fixture
def directory_user(slapd: Slapd) -> DirectoryUser:
    """A new directory user, alone in a new groupOfNames."""
    suffix = uuid.uuid4().hex[:8]
    user = DirectoryUser(f"dir-{suffix}", f"pw-{suffix}", f"team-{suffix}")
    slapd.modify(
        f"dn: {user.dn}\nobjectClass: inetOrgPerson\nuid: {user.name}\ncn: {user.name}\n"
        f"sn: {user.name}\nuserPassword: {user.password}\n\n"
        f"dn: {group_dn(user.group)}\nobjectClass: groupOfNames\ncn: {user.group}\n"
        f"member: {user.dn}\n",
        add=True,
    )
    return user


def push(image: OciImage, registry: Registry, repo: str, creds: Creds) -> SkopeoResult:
    return skopeo.push(image.layout, image.tag, registry.host, repo, creds=creds)


def assert_pushed(result: SkopeoResult, registry: Registry) -> None:
    assert result.ok, f"{result}\nregistry log:\n{registry.log()[-3000:]}"


def assert_denied(result: SkopeoResult) -> None:
    assert result.returncode != 0, result
    assert DENIED in result.stderr, result


def test_directory_user_pushes_to_their_groups_repository(
    dockit: DockitServer,
    registry: Registry,
    oci_image: OciImage,
    slapd: Slapd,
    directory_user: DirectoryUser,
) -> None:
    grant = dockit.grant(f"group:{directory_user.group}", f"repository:{directory_user.group}/*:*")
    try:
        repo = f"{directory_user.group}/app"
        assert_pushed(push(oci_image, registry, repo, directory_user.creds), registry)
        tags = skopeo.list_tags(registry.host, repo, creds=directory_user.creds)
        assert tags.ok, tags
        assert tags.json()["Tags"] == [oci_image.tag]
        # Another directory user (alice, in developers) gets nothing there.
        assert_denied(push(oci_image, registry, repo, ("alice", "alice-pw")))
        # A wrong directory password is a plain 401.
        answer = dockit.token(SERVICE, [f"repository:{repo}:pull"], (directory_user.name, "no"))
        assert answer.status == 401, answer
    finally:
        dockit.revoke(grant)


def test_removal_from_the_group_denies_the_next_push(
    dockit: DockitServer,
    registry: Registry,
    oci_image: OciImage,
    slapd: Slapd,
    directory_user: DirectoryUser,
) -> None:
    grant = dockit.grant(f"group:{directory_user.group}", f"repository:{directory_user.group}/*:*")
    try:
        repo = f"{directory_user.group}/app"
        assert_pushed(push(oci_image, registry, repo, directory_user.creds), registry)
        # A group needs a member: keep the reader entry there, remove the user.
        slapd.add_member(directory_user.group, SERVICE_DN)
        slapd.remove_member(directory_user.group, directory_user.dn)
        time.sleep(GROUP_CACHE_SECONDS + 0.5)
        assert_denied(push(oci_image, registry, repo, directory_user.creds))
        # Putting them back grants again, after the cache time too.
        slapd.add_member(directory_user.group, directory_user.dn)
        time.sleep(GROUP_CACHE_SECONDS + 0.5)
        assert_pushed(push(oci_image, registry, repo, directory_user.creds), registry)
    finally:
        dockit.revoke(grant)


def test_directory_down_is_503_and_recovers_without_a_restart(
    dockit: DockitServer,
    registry: Registry,
    oci_image: OciImage,
    slapd: Slapd,
    directory_user: DirectoryUser,
) -> None:
    grant = dockit.grant(f"group:{directory_user.group}", f"repository:{directory_user.group}/*:*")
    robot = (f"robot-{uuid.uuid4().hex[:8]}", "robot-pw-123")
    dockit.create_user(*robot)
    scope = f"repository:{directory_user.group}/app:pull,push"
    pid = dockit.pid
    try:
        assert dockit.token(SERVICE, [scope], directory_user.creds).status == 200
        slapd.stop()
        # Every request (both gunicorn workers, so several of them) says "cannot tell".
        for _ in range(4):
            answer = dockit.token(SERVICE, [scope], directory_user.creds)
            assert answer.status == 503, answer
            assert answer.error_codes() == ["UNAVAILABLE"], answer
            assert "WWW-Authenticate" not in answer.headers
            assert directory_user.password not in str(answer.json)
        result = push(oci_image, registry, f"{directory_user.group}/app", directory_user.creds)
        assert not result.ok
        assert DENIED not in result.stderr, result
        # Local users do not need the directory; /readyz reports it without failing.
        assert dockit.token(SERVICE, [], robot).status == 200
        ready = dockit.get("/readyz")
        assert ready.status == 200, ready
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["directory"] != "ok"

        slapd.start()
        answer = dockit.token(SERVICE, [scope], directory_user.creds)
        assert answer.status == 200, answer
        assert_pushed(
            push(oci_image, registry, f"{directory_user.group}/app", directory_user.creds),
            registry,
        )
        assert dockit.get("/readyz").json()["checks"]["directory"] == "ok"
        assert dockit.pid == pid
    finally:
        if not slapd.running():
            slapd.start()
        dockit.revoke(grant)


def test_directory_admin_group_opens_the_admin_api(dockit: DockitServer) -> None:
    carol = dockit.request("GET", "/api/v1/users", creds=("carol", "carol-pw"))
    assert carol.status == 200, carol
    alice = dockit.request("GET", "/api/v1/users", creds=("alice", "alice-pw"))
    assert alice.status == 403, alice


def test_login_times(dockit: DockitServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Not an assertion on time: prints how long GET /v2/token takes for a directory user."""
    scope = ["repository:developers/app:pull"]
    timings = []
    for _ in range(6):
        started = time.perf_counter()
        answer = dockit.token(SERVICE, scope, ("dave", "dave-pw"))
        timings.append(time.perf_counter() - started)
        assert answer.status == 200, answer
    with capsys.disabled():
        print(
            "\nGET /v2/token as a directory user over ldaps (ms): "
            + ", ".join(f"{t * 1000:.1f}" for t in timings)
        )


def redeem(dockit: DockitServer, refresh_token: str, scope: str) -> Response:
    return moby_refresh(dockit, refresh_token, scope, SERVICE)


@pytest.mark.docker_cli
def test_docker_login_as_a_directory_user_stores_an_identity_token(
    dockit: DockitServer,
    registry: Registry,
    slapd: Slapd,
    directory_user: DirectoryUser,
    tmp_path: Path,
) -> None:
    """The docker CLI keeps a refresh token, not the directory password; redeeming it
    carries the user's current directory groups, and it is refused (and deleted) once the
    directory no longer has the user."""
    grant = dockit.grant(f"group:{directory_user.group}", f"repository:{directory_user.group}/*:*")
    try:
        config_dir = tmp_path / "docker"
        result = docker_login(
            registry.host, directory_user.name, directory_user.password, config_dir
        )
        assert result.returncode == 0, result.stderr
        stored = read_docker_config(config_dir)["auths"][registry.host]
        # docker keeps "auth" as base64("NAME:") beside an identity token: no password.
        assert base64.b64decode(stored.get("auth", "")).decode() in (
            "",
            f"{directory_user.name}:",
        ), stored
        assert directory_user.password not in (config_dir / "config.json").read_text()
        identity_token = stored["identitytoken"]
        listed = dockit.admin(
            "GET", f"/users/{directory_user.name}/refresh-tokens", expect=200
        ).json()["items"]
        assert [(t["username"], t["source"]) for t in listed] == [(directory_user.name, "ldap")]

        scope = f"repository:{directory_user.group}/app:pull,push"
        answer = redeem(dockit, identity_token, scope)
        assert answer.status == 200, answer
        assert jwt_claims(answer.json()["access_token"])["access"] == [
            {
                "type": "repository",
                "name": f"{directory_user.group}/app",
                "actions": ["pull", "push"],
            }
        ]

        slapd.modify(f"dn: {directory_user.dn}\nchangetype: delete\n")
        time.sleep(GROUP_CACHE_SECONDS + 0.5)  # the entry is searched again once groups expire
        refused = redeem(dockit, identity_token, scope)
        assert refused.status == 401, refused
        assert (
            dockit.admin("GET", f"/users/{directory_user.name}/refresh-tokens", expect=404).status
            == 404
        )
    finally:
        dockit.revoke(grant)


def test_a_directory_user_owns_a_personal_access_token(
    dockit: DockitServer,
    registry: Registry,
    oci_image: OciImage,
    slapd: Slapd,
    directory_user: DirectoryUser,
    tmp_path: Path,
) -> None:
    """A personal token of a directory user carries the user's current directory groups,
    within its scopes; the directory's "cannot tell" is a 503; once the directory no longer
    has the user, the token is refused."""
    group = directory_user.group
    grant = dockit.grant(f"group:{group}", f"repository:{group}/*:*")
    try:
        repo = f"{group}/app"
        assert_pushed(push(oci_image, registry, repo, directory_user.creds), registry)
        pat = CredentialStore(f"sqlite:///{dockit.database_path}").make(
            "pat",
            "laptop",
            f"user:{directory_user.name}",
            scopes=[f"repository:{group}/*:pull"],
            owner_source="ldap",
        )
        token = (directory_user.name, pat.secret)
        pulled = skopeo.pull(registry.host, repo, oci_image.tag, tmp_path / "out", creds=token)
        assert pulled.ok, pulled
        assert_denied(push(oci_image, registry, f"{group}/other", token))
        answer = dockit.token(SERVICE, [f"repository:{repo}:pull,push"], token)
        assert jwt_claims(answer.token)["access"][0]["actions"] == ["pull"]

        slapd.stop()
        try:
            time.sleep(GROUP_CACHE_SECONDS + 0.5)  # the directory must be asked again
            down = dockit.token(SERVICE, [f"repository:{repo}:pull"], token)
            assert down.status == 503, down
            assert down.error_codes() == ["UNAVAILABLE"], down
        finally:
            slapd.start()

        slapd.modify(f"dn: {directory_user.dn}\nchangetype: delete\n")
        time.sleep(GROUP_CACHE_SECONDS + 0.5)
        refused = dockit.token(SERVICE, [f"repository:{repo}:pull"], token)
        assert refused.status == 401, refused
        assert "owner is disabled or no longer exists" in str(refused.json), refused
        assert pat.secret not in dockit.all_logs()
    finally:
        dockit.revoke(grant)
