"""The failed-login throttle in the login component (a TokenService's ``logins``), over the
memory backend, with a fake clock."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libdockit.admin import AdminService
from libdockit.audit import Actor, Auditor
from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.credcache import VerifiedCredentials
from libdockit.errors import AuthenticationFailed, BackendUnavailable, TooManyAttempts
from libdockit.keys.ring import KeyRing, ensure_active_key
from libdockit.login import TOKEN_USERNAME
from libdockit.model import Identity, LoginReservation
from libdockit.passwords import PasswordHasher
from libdockit.refresh import LocalIdentityResolver, RefreshTokens
from libdockit.secret import Secret
from libdockit.service import TokenService
from libdockit.throttle import Attempt, Lockout, LoginThrottle, ThrottlePolicy
from libdockit.tokens import TokenSigner

TEST_ACTOR = Actor.system("tests")

SERVICE = "registry.test"
ALICE_PW = "alice-password-1"
BOB_PW = "bob-password-1"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
HERE = Attempt("192.0.2.1", "req-1")
THERE = Attempt("198.51.100.9")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CountingAuthenticator:
    def __init__(self, inner: LocalAuthenticator) -> None:
        self.inner = inner
        self.calls = 0

    def authenticate(self, username: str, password: Secret) -> Identity | None:
        self.calls += 1
        return self.inner.authenticate(username, password)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher()


@pytest.fixture(scope="module")
def hashes(hasher: PasswordHasher) -> dict[str, str]:
    return {pw: hasher.hash(Secret(pw)) for pw in (ALICE_PW, BOB_PW)}


@pytest.fixture
def store(hashes: dict[str, str]) -> MemoryBackend:
    backend = MemoryBackend()
    backend.create_user("alice", hashes[ALICE_PW])
    backend.create_user("bob", hashes[BOB_PW])
    ensure_active_key(backend, now=datetime.now(UTC))
    return backend


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lockouts() -> list[Lockout]:
    return []


@pytest.fixture
def authenticator(store: MemoryBackend, hasher: PasswordHasher) -> CountingAuthenticator:
    return CountingAuthenticator(LocalAuthenticator(store, hasher))


@pytest.fixture
def tokens(
    store: MemoryBackend,
    authenticator: CountingAuthenticator,
    clock: Clock,
    lockouts: list[Lockout],
) -> TokenService:
    policy = ThrottlePolicy(
        max_failures=3, window=timedelta(minutes=15), max_backoff=timedelta(seconds=10)
    )
    return TokenService(
        authenticator=authenticator,
        grants=store,
        keys=KeyRing(store),
        signer=TokenSigner("dockit-test"),
        services=[SERVICE],
        groups=store,
        refresh_tokens=RefreshTokens(store, LocalIdentityResolver(store)),
        throttle=LoginThrottle(store, policy, clock=clock, on_lockout=lockouts.append),
    )


_GUESSES = itertools.count()


def fail(
    tokens: TokenService, user: str = "alice", attempt: Attempt = HERE, password: str = ""
) -> None:
    """One wrong password: a new one each time, unless ``password`` is given."""
    wrong = password or f"wrong-{next(_GUESSES)}"
    with pytest.raises(AuthenticationFailed):
        tokens.logins.login(user, Secret(wrong), service=SERVICE, attempt=attempt)


def refused(tokens: TokenService, user: str, pw: str, attempt: Attempt = HERE) -> int:
    with pytest.raises(TooManyAttempts) as caught:
        tokens.logins.login(user, Secret(pw), service=SERVICE, attempt=attempt)
    assert caught.value.code == "TOOMANYREQUESTS"
    return caught.value.retry_after


def test_policy_backoff_doubles_up_to_the_cap() -> None:
    policy = ThrottlePolicy(max_failures=5, max_backoff=timedelta(seconds=20))
    assert [policy.backoff(n) for n in range(1, 5)] == [None] * 4
    seconds = [policy.backoff(n) for n in range(5, 12)]
    assert [s.total_seconds() if s else None for s in seconds] == [1, 2, 4, 8, 16, 20, 20]
    assert policy.backoff(10**6) == timedelta(seconds=20)


def test_blocked_user_is_refused_without_a_password_check(
    tokens: TokenService, authenticator: CountingAuthenticator, clock: Clock
) -> None:
    for _ in range(3):
        fail(tokens, attempt=Attempt(None))  # no client address: the user alone counts
    checks = authenticator.calls
    # Right or wrong, the answer is the same, and no hash is computed.
    assert refused(tokens, "alice", ALICE_PW, Attempt(None)) == 1
    assert refused(tokens, "Alice", "wrong", THERE) == 1
    assert authenticator.calls == checks
    clock.advance(1)
    fail(tokens, attempt=Attempt(None))  # the fourth failure: 2 s
    assert refused(tokens, "alice", ALICE_PW, Attempt(None)) == 2
    clock.advance(1.5)
    assert refused(tokens, "alice", ALICE_PW, Attempt(None)) == 1  # rounded up
    clock.advance(0.5)
    assert (
        tokens.logins.login("alice", Secret(ALICE_PW), service=SERVICE).identity.username == "alice"
    )
    # The success cleared alice's counter: three more failures before a block.
    fail(tokens, attempt=Attempt(None))
    fail(tokens, attempt=Attempt(None))
    assert (
        tokens.logins.login("alice", Secret(ALICE_PW), service=SERVICE).identity.username == "alice"
    )


def test_backoff_is_capped(tokens: TokenService, clock: Clock) -> None:
    waits = []
    for _ in range(3):
        fail(tokens, attempt=Attempt(None))
    for _ in range(6):
        wait = refused(tokens, "alice", ALICE_PW, Attempt(None))
        waits.append(wait)
        clock.advance(wait)
        fail(tokens, attempt=Attempt(None))
    assert waits == [1, 2, 4, 8, 10, 10]


def test_unknown_user_is_locked_out_like_a_known_one(
    tokens: TokenService, authenticator: CountingAuthenticator
) -> None:
    for _ in range(3):
        fail(tokens, "nobody", Attempt(None))
    assert refused(tokens, "nobody", "whatever", Attempt(None)) == 1
    assert tokens.logins.login("bob", Secret(BOB_PW), service=SERVICE).identity.username == "bob"


def test_client_limit_spans_users(tokens: TokenService) -> None:
    for user in ("alice", "bob", "carol"):
        fail(tokens, user)
    # Bob's own counter is at one, but this client is blocked for every user.
    assert refused(tokens, "bob", BOB_PW) == 1
    assert tokens.logins.login("bob", Secret(BOB_PW), service=SERVICE, attempt=THERE)


def test_success_does_not_clear_the_client(tokens: TokenService, store: MemoryBackend) -> None:
    fail(tokens, "alice")
    fail(tokens, "bob")
    tokens.logins.login("bob", Secret(BOB_PW), service=SERVICE, attempt=HERE)
    [client] = store.login_failures(["client:192.0.2.1"])
    assert client.failures == 2
    assert store.login_failures(["user:bob"]) == []


def test_window_ends(tokens: TokenService, clock: Clock) -> None:
    fail(tokens, attempt=Attempt(None))
    fail(tokens, attempt=Attempt(None))
    clock.advance(15 * 60)
    fail(tokens, attempt=Attempt(None))  # counts as the first of a new window
    fail(tokens, attempt=Attempt(None))
    assert tokens.logins.login("alice", Secret(ALICE_PW), service=SERVICE)


def test_lockout_is_reported_once(tokens: TokenService, lockouts: list[Lockout]) -> None:
    for _ in range(3):
        fail(tokens, "alice", HERE)
    assert sorted(lockout.key for lockout in lockouts) == ["client:192.0.2.1", "user:alice"]
    assert {lockout.attempt for lockout in lockouts} == {HERE}
    assert all(lockout.failures.failures == 3 for lockout in lockouts)
    refused(tokens, "alice", ALICE_PW)
    assert len(lockouts) == 2


def test_unknown_refresh_tokens_count_per_client(
    tokens: TokenService, store: MemoryBackend
) -> None:
    guesses = [Secret("dkr_" + letter * 43) for letter in "xyzw"]
    for guess in guesses[:2]:
        with pytest.raises(AuthenticationFailed):
            tokens.logins.login(TOKEN_USERNAME, guess, service=SERVICE, attempt=HERE)
    with pytest.raises(AuthenticationFailed):
        tokens.logins.redeem_refresh_token(guesses[2], service=SERVICE, attempt=HERE)
    with pytest.raises(TooManyAttempts):
        tokens.logins.redeem_refresh_token(guesses[3], service=SERVICE, attempt=HERE)
    with pytest.raises(TooManyAttempts):
        tokens.logins.login("", guesses[3], service=SERVICE, attempt=HERE)
    assert store.login_failures(["user:<token>", "user:"]) == []


def test_a_valid_refresh_token_works_while_the_password_is_blocked(tokens: TokenService) -> None:
    login = tokens.logins.login("alice", Secret(ALICE_PW), service=SERVICE)
    assert tokens.refresh_tokens is not None
    issued = tokens.refresh_tokens.issue(login.identity, service=SERVICE, client_id="docker")
    assert issued is not None
    value = issued.value
    for _ in range(3):
        fail(tokens, attempt=Attempt(None))
    refused(tokens, "alice", ALICE_PW, Attempt(None))
    assert tokens.logins.login("alice", value, service=SERVICE).identity.username == "alice"
    assert tokens.logins.redeem_refresh_token(value, service=SERVICE).identity.username == "alice"


def test_admin_authentication_is_throttled_too(tokens: TokenService) -> None:
    for n in range(3):
        with pytest.raises(AuthenticationFailed):
            tokens.authenticate_admin("alice", Secret(f"wrong-{n}"), attempt=HERE)
    with pytest.raises(TooManyAttempts):
        tokens.authenticate_admin("alice", Secret(ALICE_PW), attempt=HERE)


def test_missing_credentials_are_not_counted(tokens: TokenService, store: MemoryBackend) -> None:
    for _ in range(5):
        with pytest.raises(AuthenticationFailed, match="required"):
            tokens.logins.login("alice", Secret(""), service=SERVICE, attempt=HERE)
    assert store.login_failures(["user:alice", "client:192.0.2.1"]) == []


def test_lockout_goes_to_the_audit_log(store: MemoryBackend, clock: Clock) -> None:
    auditor = Auditor(store)
    throttle = LoginThrottle(
        store, ThrottlePolicy(max_failures=2), clock=clock, on_lockout=auditor.lockout
    )
    throttle.failed(["user:alice", "client:192.0.2.1"], HERE)
    throttle.failed(["user:alice", "client:192.0.2.1"], HERE)
    throttle.failed(["user:alice"], HERE)
    events = store.query_events(action="login.blocked").items
    assert sorted(e.target or "" for e in events) == ["client:192.0.2.1", "user:alice"]
    event = events[0]
    assert (event.kind, event.actor, event.client_address, event.request_id) == (
        "token",
        "anonymous",
        "192.0.2.1",
        "req-1",
    )
    assert event.detail is not None
    assert event.detail["failures"] == 2
    assert event.detail["blocked_until"] == (T0 + timedelta(seconds=1)).isoformat()


# -- the same wrong secret sent again; attempts reserved before their check -------------------
def test_the_same_wrong_password_sent_again_counts_once(
    tokens: TokenService,
    store: MemoryBackend,
    authenticator: CountingAuthenticator,
    clock: Clock,
) -> None:
    """containerd POSTs the password grant and, refused, sends the same credentials by GET:
    one mistake, one failure, and the repeat costs no hash."""
    for round_ in range(2):
        checks = authenticator.calls
        fail(tokens, password=f"typo-{round_}")
        fail(tokens, password=f"typo-{round_}")
        assert authenticator.calls == checks + 1
        clock.advance(5)
    counters = store.login_failures(["user:alice", "client:192.0.2.1"])
    assert [c.failures for c in counters] == [2, 2]
    assert (
        tokens.logins.login("alice", Secret(ALICE_PW), service=SERVICE).identity.username == "alice"
    )
    # Not remembered forever (policy.repeat_window, 60 s): later it is checked and counted.
    fail(tokens, password="typo-x")
    clock.advance(61)
    checks = authenticator.calls
    fail(tokens, password="typo-x")
    assert authenticator.calls == checks + 1


def test_a_repeat_of_another_users_mistake_still_counts(
    tokens: TokenService, store: MemoryBackend
) -> None:
    fail(tokens, "alice", password="shared-typo")
    fail(tokens, "bob", password="shared-typo")
    counters = {c.key: c.failures for c in store.login_failures(["client:192.0.2.1"])}
    assert counters == {"client:192.0.2.1": 2}


def test_a_password_set_after_being_tried_is_checked_again(
    tokens: TokenService, store: MemoryBackend, hasher: PasswordHasher
) -> None:
    fail(tokens, password="alice-new-password")
    AdminService(store, store, hasher).set_password(
        "alice", Secret("alice-new-password"), actor=TEST_ACTOR
    )
    login = tokens.logins.login(
        "alice", Secret("alice-new-password"), service=SERVICE, attempt=HERE
    )
    assert login.identity.username == "alice"
    assert store.login_failures(["user:alice"]) == []


def test_concurrent_guesses_cannot_pass_one_check(
    tokens: TokenService, store: MemoryBackend, authenticator: CountingAuthenticator
) -> None:
    """Twelve guesses at once (each a real argon2id check): exactly max_failures (3) are
    checked, every other is refused before its hash."""
    start = threading.Barrier(12)
    outcomes: list[str] = []

    def guess(n: int) -> None:
        start.wait()
        try:
            tokens.logins.login("alice", Secret(f"guess-{n}"), service=SERVICE, attempt=HERE)
        except AuthenticationFailed:
            outcomes.append("checked")
        except TooManyAttempts:
            outcomes.append("refused")

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["checked"] * 3 + ["refused"] * 9
    assert authenticator.calls == 3
    assert [c.failures for c in store.login_failures(["user:alice"])] == [3]


def at_once(tokens: TokenService, logins: list[tuple[str, str]]) -> list[str]:
    """Each (user, password) login sent at the same moment from one client; the outcomes."""
    start = threading.Barrier(len(logins))
    outcomes: list[str] = []

    def login(user: str, password: str) -> None:
        start.wait()
        try:
            tokens.logins.login(user, Secret(password), service=SERVICE, attempt=HERE)
            outcomes.append("ok")
        except AuthenticationFailed:
            outcomes.append("checked")
        except TooManyAttempts:
            outcomes.append("refused")
        except BackendUnavailable:
            outcomes.append("cannot tell")

    threads = [threading.Thread(target=login, args=pair) for pair in logins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_right_passwords_of_many_users_at_once_all_pass(
    tokens: TokenService,
    store: MemoryBackend,
    authenticator: CountingAuthenticator,
    hasher: PasswordHasher,
) -> None:
    """Twelve users log in at once from one client (a build farm behind one address), with a
    limit of three failures: the attempts counted ahead of their checks block the others
    only until those checks turn out right, so every one passes."""
    for n in range(10):
        store.create_user(f"builder{n}", hasher.hash(Secret(f"builder-pw-{n}")))
    logins = [("alice", ALICE_PW), ("bob", BOB_PW)] + [
        (f"builder{n}", f"builder-pw-{n}") for n in range(10)
    ]
    assert at_once(tokens, logins) == ["ok"] * 12
    assert authenticator.calls == 12
    [client] = store.login_failures(["client:192.0.2.1"])
    assert (client.failures, client.blocked_until, client.checking) == (0, None, 0)


def test_the_same_password_at_once_is_checked_once_per_flight(
    tokens: TokenService, store: MemoryBackend, authenticator: CountingAuthenticator
) -> None:
    """Twelve logins of one account at once (a cluster starting): all pass, and those that
    arrive while its check runs take its answer instead of hashing again."""
    assert at_once(tokens, [("alice", ALICE_PW)] * 12) == ["ok"] * 12
    assert 1 <= authenticator.calls < 12
    assert store.login_failures(["user:alice"]) == []


def test_the_same_wrong_password_at_once_counts_once(
    tokens: TokenService, store: MemoryBackend, authenticator: CountingAuthenticator
) -> None:
    assert at_once(tokens, [("alice", "not-her-password")] * 12) == ["checked"] * 12
    [user] = store.login_failures(["user:alice"])
    assert user.failures == authenticator.calls < 3  # never enough to block her


def test_a_directory_that_cannot_tell_never_turns_into_a_lockout(
    store: MemoryBackend, clock: Clock
) -> None:
    """Twelve logins at once while the directory is down: each is "cannot tell" (503), none
    is refused for attempts that were only counted ahead of their check."""

    class Down:
        def authenticate(self, username: str, password: Secret) -> Identity | None:
            threading.Event().wait(0.02)  # a refused connection takes a moment too
            raise BackendUnavailable("directory down")

    service = TokenService(
        authenticator=Down(),
        grants=store,
        keys=KeyRing(store),
        signer=TokenSigner("dockit-test"),
        throttle=LoginThrottle(store, ThrottlePolicy(max_failures=2), clock=clock),
    )
    logins = [(f"user{n % 3}", f"pw-{n % 3}") for n in range(12)]
    assert at_once(service, logins) == ["cannot tell"] * 12


def test_a_right_password_takes_its_reservation_back(
    tokens: TokenService, store: MemoryBackend
) -> None:
    fail(tokens, "bob")
    fail(tokens, "bob")
    # The third attempt is reserved first (it would block this client), then taken back.
    assert tokens.logins.login("alice", Secret(ALICE_PW), service=SERVICE, attempt=HERE)
    [client] = store.login_failures(["client:192.0.2.1"])
    assert (client.failures, client.blocked_until) == (2, None)
    assert tokens.logins.login("bob", Secret(BOB_PW), service=SERVICE, attempt=HERE)


def test_cannot_tell_takes_the_reservation_back(store: MemoryBackend, clock: Clock) -> None:
    class Down:
        def authenticate(self, username: str, password: Secret) -> Identity | None:
            raise BackendUnavailable("directory down")

    service = TokenService(
        authenticator=Down(),
        grants=store,
        keys=KeyRing(store),
        signer=TokenSigner("dockit-test"),
        throttle=LoginThrottle(store, ThrottlePolicy(max_failures=1), clock=clock),
    )
    for _ in range(3):
        with pytest.raises(BackendUnavailable):
            service.logins.login("alice", Secret("pw-1"), service=SERVICE, attempt=HERE)
    assert [c.failures for c in store.login_failures(["user:alice", "client:192.0.2.1"])] == [
        0,
        0,
    ]


class CountingStore(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.reservations = 0

    def reserve_login_attempt(self, *args: Any, **kwargs: Any) -> LoginReservation:
        self.reservations += 1
        return super().reserve_login_attempt(*args, **kwargs)


def test_a_remembered_password_is_not_reserved(hashes: dict[str, str], clock: Clock) -> None:
    """The warm path (verified-credentials cache) writes nothing; the cold one reserves."""
    store = CountingStore()
    store.create_user("alice", hashes[ALICE_PW])
    service = TokenService(
        authenticator=LocalAuthenticator(store, PasswordHasher(), verified=VerifiedCredentials()),
        grants=store,
        keys=KeyRing(store),
        signer=TokenSigner("dockit-test"),
        throttle=LoginThrottle(store, ThrottlePolicy(max_failures=3), clock=clock),
    )
    service.logins.login("alice", Secret(ALICE_PW), service=SERVICE, attempt=HERE)
    assert store.reservations == 1
    for _ in range(3):
        service.logins.login("alice", Secret(ALICE_PW), service=SERVICE, attempt=HERE)
    assert store.reservations == 1
    with pytest.raises(AuthenticationFailed):
        service.logins.login("alice", Secret("wrong-1"), service=SERVICE, attempt=HERE)
    assert store.reservations == 2
