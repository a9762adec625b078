"""``dockit keys rotate`` through the real server, its wait and countdown, and durations.

Waits in this process are made instant by replacing the command's ``_sleep``; the countdown
on a real terminal runs as a process on a pseudo-terminal and waits for real (2 seconds).
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from dockit_server.client.commands import rotate
from dockit_server.client.commands.support import format_duration, parse_duration
from dockit_server.client.errors import (
    EXIT_CONFLICT,
    EXIT_DENIED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
)
from tests.client.conftest import ADMIN, ADMIN_PASSWORD, MakeUser
from tests.client.helpers import Cli, FakeTty, subprocess_env
from tests.client.test_keys import active_kid, keys_of
from tests.client.test_terminal import Terminal
from tests.support.dockit import DockitServer

Sleeps = list[float]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """The waits ``keys rotate`` asked for, none of them waited."""
    asked: Sleeps = []
    monkeypatch.setattr(rotate, "_sleep", asked.append)
    return asked


def new_kid(dockit: DockitServer, before: set[str]) -> str:
    [kid] = set(keys_of(dockit)) - before
    return kid


def test_rotate_wants_to_know_when_to_activate(admin_cli: Cli, dockit: DockitServer) -> None:
    before = set(keys_of(dockit))
    result = admin_cli("keys", "rotate")
    assert result.code == EXIT_USAGE, result
    assert "--activate-after DURATION" in result.stderr
    assert "--no-wait" in result.stderr
    assert "--activate-after 0 activates at once" in result.stderr
    assert set(keys_of(dockit)) == before


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--activate-after", "10"], "not a duration: '10'"),
        (["--activate-after", "soon"], "not a duration: 'soon'"),
        (["--activate-after", "25h"], "at most 24h"),
        (["--activate-after", "1m", "--no-wait"], "not allowed with argument"),
        (["--no-wait", "--validity-days", "many"], "invalid int value"),
    ],
)
def test_rotate_usage_errors(admin_cli: Cli, args: list[str], said: str) -> None:
    result = admin_cli("keys", "rotate", *args)
    assert result.code == EXIT_USAGE, result
    assert said in result.stderr


def test_rotate_without_waiting(admin_cli: Cli, dockit: DockitServer) -> None:
    before = set(keys_of(dockit))
    old = active_kid(dockit)
    result = admin_cli("keys", "rotate", "--no-wait")
    assert result.code == EXIT_OK, result
    kid = new_kid(dockit, before)
    created, steps, later = result.stdout.splitlines()
    assert created == (
        f"created key {kid} (ES256, pending, 365.0 days left): published in the bundle, "
        "not signing yet"
    )
    assert steps.startswith("now re-run the init step so the certificate bundle has")
    assert "`dockit init-container PATH`" in steps
    assert later == f"when every registry has restarted, activate it: dockit keys activate {kid}"
    assert (keys_of(dockit)[kid]["state"], active_kid(dockit)) == ("pending", old)

    before.add(kid)
    as_json = admin_cli("keys", "rotate", "--no-wait", "--algorithm", "RS256", "-o", "json")
    assert as_json.code == EXIT_OK, as_json
    kid = new_kid(dockit, before)
    assert as_json.json() == keys_of(dockit)[kid]
    assert as_json.json()["algorithm"] == "RS256"
    assert "now re-run the init step" in as_json.stderr
    assert f"activate it: dockit keys activate {kid}" in as_json.stderr
    assert "is pending already" in as_json.stderr  # the first rotation's key


def test_rotate_waits_then_activates(admin_cli: Cli, dockit: DockitServer, sleeps: Sleeps) -> None:
    before = set(keys_of(dockit))
    old = active_kid(dockit)
    result = admin_cli("keys", "rotate", "--activate-after", "10m")
    assert result.code == EXIT_OK, result
    kid = new_kid(dockit, before)
    assert sleeps == [600.0]
    assert "waiting 10m (until " in result.stderr
    assert f") before activating key {kid}; Ctrl-C leaves it pending" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"created key {kid} (ES256, pending")
    assert lines[1].startswith("now re-run the init step")
    assert lines[2] == (
        f"activated key {kid} (ES256, active, 365.0 days left): it signs new tokens; the "
        f"previous key {old} is retired and stays published until the tokens it signed have "
        "expired"
    )
    states = keys_of(dockit)
    assert (states[kid]["state"], states[old]["state"]) == ("active", "retired")


def test_rotate_as_json(admin_cli: Cli, dockit: DockitServer, sleeps: Sleeps) -> None:
    before = set(keys_of(dockit))
    result = admin_cli(
        "keys", "rotate", "--activate-after", "1m30s", "--validity-days", "90", "-o", "json"
    )
    assert result.code == EXIT_OK, result
    kid = new_kid(dockit, before)
    assert sleeps == [90.0]
    key = result.json()  # one document: the key as it ends up
    assert key == keys_of(dockit)[kid]
    assert (key["state"], key["days_left"]) == ("active", 90.0)
    assert "now re-run the init step" in result.stderr


def test_rotate_at_once_says_what_it_risks(
    admin_cli: Cli, dockit: DockitServer, sleeps: Sleeps
) -> None:
    before = set(keys_of(dockit))
    result = admin_cli("keys", "rotate", "--activate-after", "0")
    assert result.code == EXIT_OK, result
    assert sleeps == []
    assert "warning: activating at once (--activate-after 0)" in result.stderr
    assert active_kid(dockit) == new_kid(dockit, before)


def test_interrupted_wait_leaves_the_key_pending(
    admin_cli: Cli, dockit: DockitServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(rotate, "_sleep", interrupt)
    before = set(keys_of(dockit))
    old = active_kid(dockit)
    result = admin_cli("keys", "rotate", "--activate-after", "5m")
    assert result.code == 130, result
    kid = new_kid(dockit, before)
    assert f"interrupted; key {kid} stays pending" in result.stderr
    assert f"dockit keys activate {kid}" in result.stderr
    assert (keys_of(dockit)[kid]["state"], active_kid(dockit)) == ("pending", old)


def test_key_retired_while_waiting_is_not_activated(
    admin_cli: Cli, dockit: DockitServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = set(keys_of(dockit))
    old = active_kid(dockit)

    def someone_retires_it(seconds: float) -> None:
        dockit.admin("POST", f"/keys/{new_kid(dockit, before)}/retire", {}, expect=200)

    monkeypatch.setattr(rotate, "_sleep", someone_retires_it)
    result = admin_cli("keys", "rotate", "--activate-after", "1m")
    assert result.code == EXIT_CONFLICT, result
    assert "was retired while waiting; it was not activated" in result.stderr
    assert active_kid(dockit) == old


def test_rotate_needs_an_admin(cli: Cli, dockit: DockitServer, make_user: MakeUser) -> None:
    user = make_user()
    env = {"DOCKIT_URL": dockit.url, "DOCKIT_USERNAME": user, "DOCKIT_PASSWORD": f"{user}-pw"}
    before = set(keys_of(dockit))
    result = cli("keys", "rotate", "--no-wait", env=env)
    assert result.code == EXIT_DENIED, result
    assert set(keys_of(dockit)) == before


def test_countdown_on_a_real_terminal(dockit: DockitServer, tmp_path: Path) -> None:
    env = subprocess_env(
        tmp_path, DOCKIT_URL=dockit.url, DOCKIT_USERNAME=ADMIN, DOCKIT_PASSWORD=ADMIN_PASSWORD
    )
    before = set(keys_of(dockit))
    terminal = Terminal(["keys", "rotate", "--activate-after", "2s"], env, tmp_path)
    assert terminal.finish() == EXIT_OK, terminal.screen
    kid = new_kid(dockit, before)
    assert f"\ractivating key {kid} in 2s (Ctrl-C leaves it pending)" in terminal.screen
    assert f"activated key {kid} (ES256, active" in terminal.screen
    assert "waiting 2s" not in terminal.screen  # the one-line message is for non-terminals
    assert active_kid(dockit) == kid


# -- the wait itself --------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(rotate, "_sleep", fake.sleep)
    monkeypatch.setattr(rotate, "_monotonic", fake.monotonic)
    return fake


def test_countdown(clock: FakeClock) -> None:
    screen = FakeTty()
    rotate.wait(screen, timedelta(seconds=2.5), "K1", terminal=True)
    assert clock.sleeps == pytest.approx([0.5, 1.0, 1.0])
    shown = screen.getvalue()
    assert shown.split("\r")[1:] == [
        "activating key K1 in 3s (Ctrl-C leaves it pending)\x1b[K",
        "activating key K1 in 2s (Ctrl-C leaves it pending)\x1b[K",
        "activating key K1 in 1s (Ctrl-C leaves it pending)\x1b[K",
        "\x1b[K",
    ]


def test_countdown_of_minutes(clock: FakeClock) -> None:
    screen = FakeTty()
    rotate.wait(screen, timedelta(minutes=10), "K1", terminal=True)
    assert sum(clock.sleeps) == pytest.approx(600)
    assert "in 10m (" in screen.getvalue()
    assert "in 9m59s (" in screen.getvalue()


def test_interrupted_countdown_ends_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(rotate, "_sleep", interrupt)
    screen = FakeTty()
    with pytest.raises(KeyboardInterrupt):
        rotate.wait(screen, timedelta(seconds=30), "K1", terminal=True)
    assert screen.getvalue().endswith("\x1b[K\n")


def test_no_countdown_elsewhere(clock: FakeClock) -> None:
    log = io.StringIO()
    rotate.wait(log, timedelta(seconds=90), "K1", terminal=False)
    assert clock.sleeps == [90]
    [line] = log.getvalue().splitlines()
    assert line.startswith("waiting 1m30s (until ")
    assert "\r" not in log.getvalue()


# -- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("1H", 3600), ("0s", 0)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "m", "1x", "30m1h", "-5m", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (600, "10m"), (5400, "1h30m"), (90061, "1d1h1m1s")],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text
