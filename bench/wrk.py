"""Drive load with wrk (Debian's ``wrk``) and read what it printed.

Every run is bounded: wrk stops itself after ``duration`` seconds and is killed by PID if it
has not exited ``duration + 30`` s after its start (or when the benchmark is interrupted).
Its own CPU time comes from ``wait4``'s resource usage, so a run can show whether the load
generator had CPU to spare. A POST body, or a path that differs in every request, goes in a
Lua script written to a temporary file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed something this module cannot read."""


@dataclass(frozen=True, slots=True)
class Load:
    """What to send: a URL, headers, and optionally a POST form body.

    wrk keeps each connection open for the next request (``keepalive``, as docker and
    containerd do); without it every request says ``Connection: close``, so each one pays
    a new TCP connection, as wrk then reconnects.

    ``unique_path``: (before, after): each request's path is ``before``, a text no other
    request of any run has (12 random hex digits per wrk thread, a dash and the thread's
    request count), then ``after``; ``url`` then names only the server.
    """

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    form_body: str | None = None
    keepalive: bool = True
    unique_path: tuple[str, str] | None = None

    def with_keepalive(self, keepalive: bool) -> Load:
        return dataclasses.replace(self, keepalive=keepalive)


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_s: float
    requests: int
    seconds: float
    latency_ms: dict[int, float] = field(default_factory=dict)  # 50, 75, 90, 99
    non_2xx: int = 0
    socket_errors: int = 0
    wrk_cpu_s: float = 0.0

    @property
    def wrk_cpu_share(self) -> float:
        """wrk's CPU time per second of the run (1.0 is one core busy)."""
        return self.wrk_cpu_s / self.seconds if self.seconds else 0.0


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk is not installed: apt-get install -y wrk")
    return path


def parse(output: str) -> WrkResult:
    """The figures of one ``wrk --latency`` run."""
    rate = _RATE.search(output)
    total = _TOTAL.search(output)
    if rate is None or total is None:
        raise WrkError(f"cannot read wrk's output:\n{output[-2000:]}")
    latency = {int(p): float(v) * _UNITS[u] for p, v, u in _PERCENTILE.findall(output)}
    non_2xx = _NON_2XX.search(output)
    sockets = _SOCKET.search(output)
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _UNITS[total.group(3)] / 1000.0,
        latency_ms=latency,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def _lua_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _post_script(body: str, directory: Path) -> Path:
    script = directory / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {_lua_string(body)}\n"
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
    )
    return script


def _unique_path_script(before: str, after: str, directory: Path) -> Path:
    script = directory / "unique.lua"
    script.write_text(
        f"local before, after = {_lua_string(before)}, {_lua_string(after)}\n"
        'local run, count = "", 0\n'
        "function init(args)\n"
        '  local random = assert(io.open("/dev/urandom", "rb"))\n'
        '  run = random:read(6):gsub(".", function(c) return string.format("%02x", c:byte()) end)\n'
        "  random:close()\n"
        "end\n"
        "function request()\n"
        "  count = count + 1\n"
        '  return wrk.format(nil, before .. run .. "-" .. count .. after)\n'
        "end\n"
    )
    return script


def _script(load: Load, directory: Path) -> Path | None:
    if load.form_body is not None and load.unique_path is not None:
        raise WrkError("a load has a POST body or a unique path, not both")
    if load.form_body is not None:
        return _post_script(load.form_body, directory)
    if load.unique_path is not None:
        return _unique_path_script(*load.unique_path, directory)
    return None


def _command(
    load: Load, *, duration: int, threads: int, connections: int, script: Path | None
) -> list[str]:
    args = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    args += ["--timeout", "10s"]
    for name, value in load.headers:
        args += ["-H", f"{name}: {value}"]
    if not load.keepalive:
        args += ["-H", "Connection: close"]
    if script is not None:
        args += ["-s", str(script)]
    return [*args, load.url]


def start(
    load: Load, *, duration: int, threads: int, connections: int, scratch: Path
) -> subprocess.Popen[bytes]:
    """Start wrk (output in a file under ``scratch``); finish it with :func:`finish`."""
    if duration < 1 or threads < 1 or connections < threads:
        raise WrkError("wrk needs duration >= 1 s and connections >= threads >= 1")
    scratch.mkdir(parents=True, exist_ok=True)
    script = _script(load, scratch)
    out = open(scratch / "wrk.out", "wb")  # noqa: SIM115 - the child holds it; closed below
    try:
        return subprocess.Popen(
            _command(
                load, duration=duration, threads=threads, connections=connections, script=script
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        out.close()


def finish(process: subprocess.Popen[bytes], scratch: Path, *, deadline: float) -> WrkResult:
    """Wait for wrk (killing it by PID at ``deadline``, a monotonic time) and parse it."""
    try:
        status, cpu = _wait(process, deadline)
    finally:
        stop(process)
    output = (scratch / "wrk.out").read_text(errors="replace")
    if status != 0:
        raise WrkError(f"wrk exited with status {status}:\n{output[-2000:]}")
    return dataclasses.replace(parse(output), wrk_cpu_s=cpu)


def _wait(process: subprocess.Popen[bytes], deadline: float) -> tuple[int, float]:
    """Exit status and CPU seconds, from wait4 (so the rusage is this child's own)."""
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_utime + usage.ru_stime
        time.sleep(0.05)
    raise WrkError(f"wrk (PID {process.pid}) did not finish in time; killed")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill wrk by its PID if it still runs, and reap it."""
    if process.returncode is None and process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
            process.wait(timeout=10)


def run(load: Load, *, duration: int, threads: int = 1, connections: int = 4) -> WrkResult:
    """One wrk run of ``duration`` seconds."""
    return run_parallel([load], duration=duration, threads=threads, connections=connections)[0]


def run_parallel(
    loads: Sequence[Load], *, duration: int, threads: int = 1, connections: int = 4
) -> list[WrkResult]:
    """One wrk per load, all at once, each for ``duration`` seconds."""
    with tempfile.TemporaryDirectory(prefix="dockit-bench-wrk-") as tmp:
        processes: list[tuple[subprocess.Popen[bytes], Path]] = []
        try:
            for number, load in enumerate(loads):
                scratch = Path(tmp) / str(number)
                process = start(
                    load,
                    duration=duration,
                    threads=threads,
                    connections=connections,
                    scratch=scratch,
                )
                processes.append((process, scratch))
            deadline = time.monotonic() + duration + 30
            return [finish(process, scratch, deadline=deadline) for process, scratch in processes]
        finally:
            for process, _ in processes:
                stop(process)
