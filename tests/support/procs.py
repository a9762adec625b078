"""Start real services on free loopback ports and stop them by PID.

Every wait is bounded; under ``CI=true`` a missing binary fails the test instead of
skipping it, so CI can never pass by quietly not testing something.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_binary(name: str, *, hint: str = "") -> str:
    """The path of ``name``; a missing binary skips locally and fails under CI=true."""
    path = shutil.which(name)
    if path is None:
        for directory in ("/usr/sbin", "/sbin", "/usr/lib/postgresql/15/bin"):
            candidate = Path(directory) / name
            if candidate.exists():
                return str(candidate)
        message = f"{name} is not installed{': ' + hint if hint else ''}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_root(what: str) -> None:
    """Skip (fail under CI=true) unless running as root, which ``what`` needs."""
    if os.geteuid() != 0:
        message = f"{what} runs as root here; these tests are not running as root"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> None:
    """Poll ``check`` until it is true; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or check!r}")


class ManagedProcess:
    """A child process with its output in a log file; ``stop`` ends it by PID."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.args = list(args)
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, check: Callable[[], bool], *, timeout: float = 20.0) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(
                    f"{self.args[0]} exited with {self.process.returncode}:\n{self.log()[-4000:]}"
                )
            return check()

        try:
            wait_until(ready, timeout=timeout, what=self.args[0])
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.log()[-4000:]}") from exc

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0, *, group: bool = True) -> None:
        """Signal the process (``group``: its whole process group), wait, then SIGKILL the
        group. A supervisor such as gunicorn's master should get the signal alone, as an
        init system would send it, so it can stop its workers in order."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(self.process.pid, sig)
                else:
                    self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        # Whatever the signal, nothing of the group may outlive the test.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if not self._log.closed:
            self._log.close()


def children(pid: int) -> set[int]:
    """PIDs whose parent is ``pid`` (e.g. gunicorn's workers), from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces; the parent PID follows its ")".
        if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
            found.add(int(entry))
    return found


@contextlib.contextmanager
def paused(pids: Sequence[int]) -> Iterator[None]:
    """SIGSTOP every process in ``pids`` for the block (a server that accepts connections
    and never answers); SIGCONT them however the block ends."""
    stopped = []
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        yield
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
