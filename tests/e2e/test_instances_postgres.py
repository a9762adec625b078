"""Two Dockit instances on one PostgreSQL behave as one service.

Two real ``dockit api-server`` processes (gunicorn, 2 workers each), A and B, share one
database on a real PostgreSQL 15, with the same issuer, services, admin and
``keys.encryption_secret``, as README "More workers, more instances" tells operators to run
them. This module proves what that section promises:

* a token from one instance verifies with the bundle the other publishes: with the
  independent verifier (distribution 2.8's rules) against the file ``dockit init-container``
  writes from B, and with a real docker-registry 2.8 whose realm is A and whose bundle came
  from B (skopeo pushes and pulls through it);
* an admin change made through one instance decides the very next token of the other: a
  grant, a group membership, a disabled group, a disabled user whose password the other had
  cached, and a new password. Every step asks several times (each request is a new
  connection and lands on either gunicorn worker) and every answer is checked;
* activating keys is atomic across instances: pending keys activated through A and B at the
  same moment leave exactly one active key, retire every key that was active before, no
  request answers 5xx meanwhile, and both instances sign with that one key within a bounded
  wait (the key ring re-reads the store every 5 s);
* two instances started at the same moment on an empty database both come up (they race
  the schema, the first key and the first admin).

The pair of servers serves the whole module; tests keep apart by unique user, group and
repository names. Nothing is faked: processes, clocks, database and HTTP are real, on loopback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509

from tests.e2e.conftest import OciImage, unique, write_bundle
from tests.support import skopeo
from tests.support.access_credentials import CredentialStore
from tests.support.dockit import (
    DEFAULT_ADMIN,
    DockitServer,
    Response,
    TokenAnswer,
    http_request,
)
from tests.support.jwt_parts import jwt_claims, jwt_header
from tests.support.postgres import PostgresServer
from tests.support.registry import Registry
from tests.support.verifier import libtrust_key_id, verify_token

pytestmark = pytest.mark.postgres

SERVICE = "registry.test"
ISSUER = "dockit-instances"
ENCRYPTION_SECRET = "instances-test-key-encryption-secret"
#: Token requests per instance and step, in bursts of concurrent requests (each request is
#: a new connection, taken by whichever worker is free): see :func:`in_bursts`.
REQUESTS_PER_STEP = 8
BURST = 4
#: The key ring re-reads the store about every 5 s; allow for a slow machine.
KEY_SWITCH_TIMEOUT = 20.0
ACTIVATION_ROUNDS = 3

Creds = tuple[str, str]
T = TypeVar("T")


# -- the pair of instances ----------------------------------------------------------------


def instance(workdir: Path, database_url: str) -> DockitServer:
    """One ``dockit api-server`` (2 workers) on the shared database, settings as the other's."""
    return DockitServer(
        workdir,
        services=(SERVICE,),
        issuer=ISSUER,
        workers=2,
        extra_env={
            "DOCKIT_DATABASE_URL": database_url,
            "DOCKIT_KEY_ENCRYPTION_SECRET": ENCRYPTION_SECRET,
            # Bad logins are part of the tests: keep the failed-login limit out of the way.
            "DOCKIT_LOGIN_MAX_FAILURES": "0",
        },
    )


@dataclass(frozen=True)
class Pair:
    a: DockitServer
    b: DockitServer


def server_errors(server: DockitServer) -> str | None:
    """What went wrong in a server, from its logs; None when it runs and logged no error."""
    log = server.all_logs()
    if not server.running():
        return f"{server.url} is not running:\n{log[-6000:]}"
    for marker in ("Traceback", "unexpected error"):
        if marker in log:
            return f"{server.url} logged {marker!r}:\n{log[-6000:]}"
    return None


@pytest.fixture(scope="module")
def pair(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    """A, then B (once A has prepared the schema, the first key and the first admin)."""
    database = postgres_server.create_database()
    url = postgres_server.url_for(database)
    a = instance(tmp_path_factory.mktemp("dockit-a"), url)
    b = instance(tmp_path_factory.mktemp("dockit-b"), url)
    try:
        with a, b:
            yield Pair(a, b)
    finally:
        postgres_server.drop_database(database)


@pytest.fixture(autouse=True)
def no_server_errors(pair: Pair) -> Iterator[None]:
    """After every test: both instances still run and logged no traceback."""
    yield
    for server in (pair.a, pair.b):
        problem = server_errors(server)
        assert problem is None, problem


# -- tokens -------------------------------------------------------------------------------


def actions_on(claims: dict[str, Any], repo: str) -> list[str]:
    """The actions token claims grant on ``repository:REPO``, sorted."""
    return sorted(
        action
        for entry in claims.get("access", [])
        if entry.get("type") == "repository" and entry.get("name") == repo
        for action in entry.get("actions", [])
    )


def repo_actions(answer: TokenAnswer, repo: str) -> list[str]:
    """The actions a 200 token answer grants on ``repository:REPO`` (claims unverified)."""
    return actions_on(jwt_claims(answer.token), repo)


def repo_scope(repo: str) -> str:
    return f"repository:{repo}:pull,push"


def _burst(pool: ThreadPoolExecutor, call: Callable[[], T]) -> list[T]:
    """BURST calls of ``call`` released at the same moment."""
    barrier = threading.Barrier(BURST)

    def released() -> T:
        barrier.wait(timeout=10)
        return call()

    futures = [pool.submit(released) for _ in range(BURST)]
    return [future.result(timeout=60) for future in futures]


def in_bursts(call: Callable[[], T]) -> list[T]:
    """``call()`` REQUESTS_PER_STEP times, in bursts of BURST concurrent calls.

    Sequential requests to gunicorn's sync workers may all land on one worker. In a burst,
    while one worker answers a request the next connection is taken by the other, so both
    workers answer (checked by breaking the cache invalidation in a copy of the tree: every
    step that follows a change then failed, in every run).
    """
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return [result for _ in range(REQUESTS_PER_STEP // BURST) for result in _burst(pool, call)]


def assert_actions(
    server: DockitServer, creds: Creds, repo: str, expected: list[str], step: str
) -> None:
    """Every one of REQUESTS_PER_STEP tokens from ``server`` grants exactly ``expected``."""
    answers = in_bursts(lambda: server.token(SERVICE, [repo_scope(repo)], creds))
    assert [answer.status for answer in answers] == [200] * REQUESTS_PER_STEP, step
    seen = [repo_actions(answer, repo) for answer in answers]
    assert seen == [sorted(expected)] * REQUESTS_PER_STEP, step


def assert_logins(server: DockitServer, creds: Creds, status: int, step: str) -> None:
    """Every one of REQUESTS_PER_STEP token requests with ``creds`` answers ``status``."""
    seen = in_bursts(lambda: server.token(SERVICE, [], creds).status)
    assert seen == [status] * REQUESTS_PER_STEP, step


def new_user(server: DockitServer, prefix: str) -> Creds:
    creds = (unique(prefix), unique("pw"))
    server.create_user(*creds)
    return creds


# -- 1. tokens from one verify with the bundle from the other ------------------------------


def cert_kids(bundle_pem: bytes) -> set[str]:
    return {
        libtrust_key_id(cert.public_key()) for cert in x509.load_pem_x509_certificates(bundle_pem)
    }


def wait_until(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.2)


def test_token_from_one_verifies_with_the_bundle_written_from_the_other(
    pair: Pair, tmp_path: Path
) -> None:
    alice = new_user(pair.a, "alice")
    repo = f"{alice[0]}/app"
    pair.b.grant(f"user:{alice[0]}", repo_scope(repo))

    # The bundle as an operator writes it: the real init-container, pointed at B only.
    (tmp_path / "bundle").mkdir()
    bundle_from_b = write_bundle(pair.b, tmp_path / "bundle" / "certs.pem").read_bytes()
    token_from_a = pair.a.token(SERVICE, [repo_scope(repo)], alice).token
    assert jwt_header(token_from_a)["kid"] in cert_kids(bundle_from_b)
    claims = verify_token(token_from_a, bundle_pem=bundle_from_b, issuer=ISSUER, service=SERVICE)
    assert claims["sub"] == alice[0]
    assert actions_on(claims, repo) == ["pull", "push"]  # the grant made through B

    # And the other way round, with A's published bundle.
    token_from_b = pair.b.token(SERVICE, [repo_scope(repo)], alice).token
    verify_token(token_from_b, bundle_pem=pair.a.certs_pem(), issuer=ISSUER, service=SERVICE)

    # Both publish the same certificates (at once, unless a key changed in the last seconds).
    wait_until(
        lambda: cert_kids(pair.a.certs_pem()) == cert_kids(pair.b.certs_pem()),
        "A and B to publish the same certificates",
        KEY_SWITCH_TIMEOUT,
    )


@pytest.mark.registry
def test_registry_sent_to_one_trusts_the_bundle_from_the_other(
    pair: Pair, oci_image: OciImage, tmp_path: Path
) -> None:
    """docker-registry 2.8: realm A, rootcertbundle written by init-container from B."""
    alice = new_user(pair.b, "alice")
    repo = f"{alice[0]}/app"
    pair.a.grant(f"user:{alice[0]}", repo_scope(repo))
    (tmp_path / "bundle").mkdir()
    bundle = write_bundle(pair.b, tmp_path / "bundle" / "certs.pem")
    with Registry(
        realm=pair.a.token_realm,
        rootcertbundle=bundle,
        service=SERVICE,
        issuer=ISSUER,
        workdir=tmp_path / "registry",
    ) as registry:
        challenge = registry.get("/v2/").headers["WWW-Authenticate"]
        assert challenge == f'Bearer realm="{pair.a.token_realm}",service="{SERVICE}"'

        pushed = skopeo.push(oci_image.layout, oci_image.tag, registry.host, repo, creds=alice)
        assert pushed.ok, f"{pushed}\nregistry log:\n{registry.log()[-3000:]}"
        pulled = skopeo.pull(registry.host, repo, oci_image.tag, tmp_path / "pulled", creds=alice)
        assert pulled.ok, f"{pulled}\nregistry log:\n{registry.log()[-3000:]}"
        inspected = skopeo.inspect_layout(tmp_path / "pulled", oci_image.tag)
        assert inspected.ok, inspected
        assert inspected.json()["Digest"] == oci_image.digest

        # A token from B (not the realm) is accepted by the same registry too.
        token_from_b = pair.b.token(SERVICE, [f"repository:{repo}:pull"], alice).token
        listed = http_request(
            f"{registry.url}/v2/{repo}/tags/list",
            headers={"Authorization": f"Bearer {token_from_b}"},
        )
        assert listed.status == 200, listed
        assert listed.json()["tags"] == [oci_image.tag]


# -- 2. an admin change on one decides the next token of the other --------------------------


def test_grant_added_on_one_and_revoked_on_the_other(pair: Pair) -> None:
    alice = new_user(pair.a, "alice")
    repo = f"{alice[0]}/app"
    # B has read alice and her (lack of) grants: its workers have them cached.
    assert_actions(pair.b, alice, repo, [], "B before any grant")

    grant_id = pair.a.grant(f"user:{alice[0]}", f"repository:{alice[0]}/*:pull,push")
    assert_actions(pair.b, alice, repo, ["pull", "push"], "B right after the grant on A")
    assert_actions(pair.a, alice, repo, ["pull", "push"], "A right after the grant on A")

    pair.b.revoke(grant_id)
    assert_actions(pair.a, alice, repo, [], "A right after the revoke on B")
    assert_actions(pair.b, alice, repo, [], "B right after the revoke on B")


def test_group_membership_and_disabled_group_across_instances(pair: Pair) -> None:
    alice = new_user(pair.b, "alice")
    group = unique("devs")
    repo = f"{group}/app"
    pair.b.create_group(group)
    pair.a.grant(f"group:{group}", f"repository:{group}/**:pull")
    assert_actions(pair.a, alice, repo, [], "A before alice is a member")

    pair.b.add_member(group, alice[0])
    assert_actions(pair.a, alice, repo, ["pull"], "A right after adding alice on B")

    pair.a.set_group(group, enabled=False)
    assert_actions(pair.b, alice, repo, [], "B right after disabling the group on A")

    pair.b.set_group(group, enabled=True)
    assert_actions(pair.a, alice, repo, ["pull"], "A right after enabling the group on B")

    pair.a.remove_member(group, alice[0])
    assert_actions(pair.b, alice, repo, [], "B right after removing alice on A")
    assert_actions(pair.a, alice, repo, [], "A right after removing alice on A")


def test_user_disabled_on_one_is_refused_by_the_other_despite_its_password_cache(
    pair: Pair,
) -> None:
    alice = new_user(pair.a, "alice")
    # Warm B: her password has matched in its workers (passwords.cache_seconds is 60).
    assert_logins(pair.b, alice, 200, "B before disabling")

    pair.a.set_user(alice[0], enabled=False)
    assert_logins(pair.b, alice, 401, "B right after disabling alice on A")
    assert_logins(pair.a, alice, 401, "A right after disabling alice on A")

    pair.b.set_user(alice[0], enabled=True)
    assert_logins(pair.a, alice, 200, "A right after enabling alice on B")


def test_password_changed_on_one_is_required_by_the_other_at_once(pair: Pair) -> None:
    old = new_user(pair.b, "alice")
    new = (old[0], unique("new-pw-1234"))
    assert_logins(pair.a, old, 200, "A before the change (warms its password cache)")
    assert_logins(pair.b, old, 200, "B before the change")

    changed = pair.b.admin("PUT", f"/users/{old[0]}/password", {"password": new[1]})
    assert changed.status == 204, changed
    assert_logins(pair.a, old, 401, "A, old password, right after the change on B")
    assert_logins(pair.a, new, 200, "A, new password, right after the change on B")
    assert_logins(pair.b, old, 401, "B, old password, right after the change on B")
    assert_logins(pair.b, new, 200, "B, new password, right after the change on B")


def test_personal_token_follows_its_owner_and_its_own_state_across_instances(
    pair: Pair,
) -> None:
    """A personal access token's rights are its owner's now, whichever instance answers: a
    grant revoked or an owner disabled through one, or the token disabled or deleted in the
    database, decides the next token of the other."""
    store = CredentialStore(pair.a.environment()["DOCKIT_DATABASE_URL"])
    alice = new_user(pair.a, "alice")
    repo = f"{alice[0]}/app"
    grant_id = pair.a.grant(f"user:{alice[0]}", f"repository:{alice[0]}/*:pull,push")
    pat = store.make("pat", "ci", f"user:{alice[0]}", scopes=[f"repository:{repo}:push"])
    token = (alice[0], pat.secret)
    assert_actions(pair.b, token, repo, ["pull", "push"], "B through the token")

    pair.a.revoke(grant_id)
    assert_actions(pair.b, token, repo, [], "B right after the revoke on A")
    pair.b.grant(f"user:{alice[0]}", f"repository:{alice[0]}/*:pull")
    assert_actions(pair.a, token, repo, ["pull"], "A right after a pull grant on B")

    pair.b.set_user(alice[0], enabled=False)
    assert_logins(pair.a, token, 401, "A right after disabling the owner on B")
    pair.a.set_user(alice[0], enabled=True)
    assert_logins(pair.b, token, 200, "B right after enabling the owner on A")

    store.set_enabled(pat.record.id, False)
    assert_logins(pair.a, token, 401, "A right after disabling the token")
    assert_logins(pair.b, token, 401, "B right after disabling the token")
    store.set_enabled(pat.record.id, True)
    assert_logins(pair.b, token, 200, "B right after enabling the token")
    store.delete(pat.record.id)
    assert_logins(pair.a, token, 401, "A right after deleting the token")
    assert_logins(pair.b, token, 401, "B right after deleting the token")


# -- 3. key activation is atomic across instances ------------------------------------------


def keys_of(server: DockitServer) -> list[dict[str, Any]]:
    """``GET /keys`` without the time-dependent ``days_left``."""
    items: list[dict[str, Any]] = server.admin("GET", "/keys", expect=200).json()["items"]
    return [{name: value for name, value in key.items() if name != "days_left"} for key in items]


def states(keys: list[dict[str, Any]]) -> dict[str, str]:
    return {str(key["kid"]): str(key["state"]) for key in keys}


@dataclass
class TokenLoad:
    """Token requests to A and B in turn from a background thread, until stopped.

    Records every status and the kid of every token; bounded by ``max_seconds``.
    """

    servers: tuple[DockitServer, ...]
    creds: Creds
    max_seconds: float = 120.0
    statuses: list[int] = field(default_factory=list)
    kids: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        turn = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            server = self.servers[turn % len(self.servers)]
            turn += 1
            try:
                answer = server.token(SERVICE, [], self.creds)
            except OSError as exc:
                self.errors.append(f"{server.url}: {exc}")
                continue
            self.statuses.append(answer.status)
            if answer.status == 200:
                self.kids.add(str(jwt_header(answer.token)["kid"]))
            time.sleep(0.02)

    def __enter__(self) -> TokenLoad:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def activate_together(calls: list[tuple[DockitServer, str]]) -> list[Response]:
    """``POST /keys/KID/activate`` on each (server, kid), all released at the same moment."""
    barrier = threading.Barrier(len(calls))
    answers: list[Response | None] = [None] * len(calls)

    def activate(index: int, server: DockitServer, kid: str) -> None:
        barrier.wait(timeout=10)
        answers[index] = server.admin("POST", f"/keys/{kid}/activate")

    threads = [
        threading.Thread(target=activate, args=(index, server, kid))
        for index, (server, kid) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(answer is not None for answer in answers), "an activation did not answer"
    return [answer for answer in answers if answer is not None]


def signing_kids(server: DockitServer, creds: Creds) -> set[str]:
    """The kids of REQUESTS_PER_STEP fresh tokens from ``server`` (every worker)."""
    return {
        str(jwt_header(token)["kid"])
        for token in in_bursts(lambda: server.token(SERVICE, [], creds).token)
    }


def wait_for_signing_kid(
    servers: tuple[DockitServer, ...], creds: Creds, kid: str, step: str
) -> None:
    """Wait (bounded) until every token from every server carries ``kid``."""
    wait_until(
        lambda: set().union(*(signing_kids(server, creds) for server in servers)) == {kid},
        f"{step}: every instance to sign with {kid} only",
        KEY_SWITCH_TIMEOUT,
    )


def test_concurrent_activations_on_both_leave_exactly_one_active_key(pair: Pair) -> None:
    user = new_user(pair.a, "signer")
    responses: list[tuple[str, Response]] = []
    with TokenLoad((pair.a, pair.b), user) as load:
        for round_number in range(1, ACTIVATION_ROUNDS + 1):
            step = f"round {round_number}"
            before = states(keys_of(pair.a))
            previously_active = {kid for kid, state in before.items() if state == "active"}
            assert len(previously_active) == 1, f"{step}: before: {before}"

            created_on_a = pair.a.admin("POST", "/keys", {})
            created_on_b = pair.b.admin("POST", "/keys", {})
            responses += [("create on A", created_on_a), ("create on B", created_on_b)]
            assert (created_on_a.status, created_on_b.status) == (201, 201), step
            kid_a, kid_b = created_on_a.json()["kid"], created_on_b.json()["kid"]
            assert created_on_a.json()["state"] == created_on_b.json()["state"] == "pending"

            on_a, on_b = activate_together([(pair.a, kid_a), (pair.b, kid_b)])
            responses += [("activate on A", on_a), ("activate on B", on_b)]
            assert (on_a.status, on_b.status) == (200, 200), f"{step}: {on_a} / {on_b}"
            assert on_a.json()["state"] == on_b.json()["state"] == "active", step

            # One store, one answer: both instances list the same keys in the same states.
            listed_a, listed_b = keys_of(pair.a), keys_of(pair.b)
            assert listed_a == listed_b, step
            after = states(listed_a)
            active = [kid for kid, state in after.items() if state == "active"]
            assert len(active) == 1, f"{step}: more or less than one active key: {after}"
            (winner,) = active
            assert winner in {kid_a, kid_b}, f"{step}: {after}"
            # The other new key was active for a moment, then retired by the later activation.
            assert {after[kid_a], after[kid_b]} == {"active", "retired"}, f"{step}: {after}"
            for kid in previously_active:
                assert after[kid] == "retired", f"{step}: {kid} was active before: {after}"

            # Both instances, every worker, sign with the one active key within the bound.
            wait_for_signing_kid((pair.a, pair.b), user, winner, step)
            for signer, other in ((pair.a, pair.b), (pair.b, pair.a)):
                token = signer.token(SERVICE, [], user).token
                verify_token(token, bundle_pem=other.certs_pem(), issuer=ISSUER, service=SERVICE)

    failed = [f"{what}: {response}" for what, response in responses if response.status >= 500]
    assert failed == []
    assert load.errors == []
    assert load.statuses, "the token load made no request"
    assert set(load.statuses) == {200}, sorted(set(load.statuses))
    assert load.kids <= set(states(keys_of(pair.b))), load.kids


# -- starting together ----------------------------------------------------------------------


def test_two_instances_started_at_once_on_an_empty_database_both_serve(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database = postgres_server.create_database()
    url = postgres_server.url_for(database)
    servers = [instance(tmp_path / name, url) for name in ("a", "b")]
    barrier = threading.Barrier(len(servers))
    failures: list[str] = []

    def start(server: DockitServer) -> None:
        barrier.wait(timeout=10)
        try:
            server.start()
        except RuntimeError as exc:
            failures.append(f"{server.url}: {exc}")

    threads = [threading.Thread(target=start, args=(server,)) for server in servers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == [], "\n".join(failures)

        a, b = servers
        assert [user["username"] for user in a.list_users()] == [DEFAULT_ADMIN]
        listed = keys_of(a)
        assert listed == keys_of(b)
        assert [key["state"] for key in listed] == ["active"], listed
        user = new_user(b, "alice")
        for signer, other in ((a, b), (b, a)):
            token = signer.token(SERVICE, [], user).token
            assert jwt_header(token)["kid"] == listed[0]["kid"]
            verify_token(token, bundle_pem=other.certs_pem(), issuer=ISSUER, service=SERVICE)
        for server in servers:
            problem = server_errors(server)
            assert problem is None, problem
    finally:
        for server in servers:
            server.stop()
        postgres_server.drop_database(database)
