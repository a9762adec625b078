"""Password prompts at a real terminal: the CLI runs on a pseudo-terminal that is its
controlling terminal, so ``getpass`` reads ``/dev/tty`` with echo off, as for a person."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from dockit_server.client.errors import EXIT_OK, EXIT_USAGE
from tests.client.conftest import ADMIN, ADMIN_PASSWORD
from tests.client.helpers import subprocess_env, unique
from tests.support.dockit import DockitServer

# setsid, then open the terminal: on Linux it becomes the session's controlling terminal.
_WRAPPER = (
    "import os, sys; os.setsid(); os.close(os.open(os.ttyname(0), os.O_RDWR)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'dockit_server.cli', *sys.argv[1:]])"
)
TIMEOUT = 30.0


class Terminal:
    """``dockit ARGS`` on a pseudo-terminal; :meth:`answer` waits for a prompt and types."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        master, slave = pty.openpty()
        self._master = master
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
        )
        os.close(slave)
        self.screen = ""

    def _read_until(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {text!r} on the terminal; it shows {self.screen!r}")
            ready, _, _ = select.select([self._master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self._master, 4096)
                except OSError:  # EIO: the other side closed
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"exited before {text!r}; it showed {self.screen!r}")
                self.screen += chunk.decode(errors="replace")

    def answer(self, prompt: str, text: str) -> None:
        self._read_until(prompt)
        os.write(self._master, text.encode() + b"\r")

    def finish(self) -> int:
        try:
            code = self.process.wait(timeout=TIMEOUT)
            while True:
                ready, _, _ = select.select([self._master], [], [], 0.2)
                if not ready:
                    break
                try:
                    chunk = os.read(self._master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.screen += chunk.decode(errors="replace")
            return code
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=TIMEOUT)
            os.close(self._master)


def test_new_password_is_asked_twice_without_echo(dockit: DockitServer, tmp_path: Path) -> None:
    name = unique("tty")
    env = subprocess_env(tmp_path, DOCKIT_URL=dockit.url, DOCKIT_USERNAME=ADMIN)
    terminal = Terminal(["user", "add", name], env, tmp_path)
    terminal.answer(f"Password for {ADMIN}: ", ADMIN_PASSWORD)
    terminal.answer(f"New password for {name}: ", "typed-secret-1")
    terminal.answer("Repeat it: ", "typed-secret-1")
    assert terminal.finish() == EXIT_OK, terminal.screen
    assert f"created user {name}" in terminal.screen
    assert "typed-secret-1" not in terminal.screen
    assert ADMIN_PASSWORD not in terminal.screen
    assert dockit.token(dockit.services[0], [], (name, "typed-secret-1")).status == 200


def test_different_answers_change_nothing(dockit: DockitServer, tmp_path: Path) -> None:
    name = unique("tty")
    env = subprocess_env(
        tmp_path, DOCKIT_URL=dockit.url, DOCKIT_USERNAME=ADMIN, DOCKIT_PASSWORD=ADMIN_PASSWORD
    )
    terminal = Terminal(["user", "add", name], env, tmp_path)
    terminal.answer(f"New password for {name}: ", "first-try")
    terminal.answer("Repeat it: ", "second-try")
    assert terminal.finish() == EXIT_USAGE, terminal.screen
    assert "the two passwords differ; nothing was changed" in terminal.screen
    assert dockit.admin("GET", f"/users/{name}").status == 404
