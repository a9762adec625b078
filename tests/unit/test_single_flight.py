"""SingleFlight: callers with the same key while a check runs take its answer."""

from __future__ import annotations

import threading

import pytest

from libdockit.errors import AuthenticationFailed
from libdockit.single_flight import SingleFlight


def test_callers_during_a_check_share_its_answer() -> None:
    flights: SingleFlight[str] = SingleFlight()
    release = threading.Event()
    calls: list[int] = []

    def check() -> str:
        calls.append(1)
        release.wait(5)
        return "identity"

    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda: answers.append(flights.run("k", check))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for _ in range(500):  # until every thread waits on the one check
        if len(calls) == 1 and len(flights) == 1 and threading.active_count() >= 9:
            break
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(5)
    assert answers == ["identity"] * 8
    assert len(calls) < 8
    assert len(flights) == 0


def test_an_error_is_shared_as_a_copy_and_the_next_call_checks_again() -> None:
    flights: SingleFlight[str] = SingleFlight()
    started, release = threading.Event(), threading.Event()

    def wrong() -> str:
        started.set()
        release.wait(5)
        raise AuthenticationFailed("invalid username or password")

    errors: list[AuthenticationFailed] = []

    def call() -> None:
        try:
            flights.run("k", wrong)
        except AuthenticationFailed as exc:
            errors.append(exc)

    leader = threading.Thread(target=call)
    leader.start()
    started.wait(5)
    follower = threading.Thread(target=call)
    follower.start()
    threading.Event().wait(0.05)
    release.set()
    leader.join(5)
    follower.join(5)
    assert [e.message for e in errors] == ["invalid username or password"] * 2
    assert errors[0] is not errors[1]
    assert flights.run("k", lambda: "right") == "right"  # nothing remembered after


def test_different_keys_do_not_wait_for_each_other() -> None:
    flights: SingleFlight[str] = SingleFlight()
    release = threading.Event()
    holder = threading.Thread(target=lambda: flights.run("a", lambda: str(release.wait(5))))
    holder.start()
    assert flights.run("b", lambda: "b") == "b"
    release.set()
    holder.join(5)


def test_a_follower_of_a_stopped_check_checks_on_its_own() -> None:
    flights: SingleFlight[str] = SingleFlight()
    started, release = threading.Event(), threading.Event()

    def stopped() -> str:
        started.set()
        release.wait(5)
        raise KeyboardInterrupt  # not an answer: the follower must not get it

    def lead() -> None:
        with pytest.raises(KeyboardInterrupt):
            flights.run("k", stopped)

    leader = threading.Thread(target=lead)
    leader.start()
    started.wait(5)
    answers: list[str] = []
    follower = threading.Thread(target=lambda: answers.append(flights.run("k", lambda: "own")))
    follower.start()
    threading.Event().wait(0.05)
    release.set()
    leader.join(5)
    follower.join(5)
    assert answers == ["own"]
