"""Processes the benchmark starts: real ``dockit api-server`` instances, and CPU accounting.

Servers are :class:`tests.support.dockit.DockitServer` (the same start, readiness wait and
stop-by-PID the end-to-end tests use): gunicorn's master gets SIGTERM, then its whole
process group SIGKILL if it lingers. :func:`started` ties a server's life to a ``with``
block, so an error or Ctrl-C anywhere in a scenario stops it.

CPU time is read from ``/proc/PID/stat`` for gunicorn's master and its workers (found by
their parent PID), so a scenario can say how much server CPU one request costs.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.dockit import DockitServer, Response, basic_auth

SERVICE = "registry.test"
ADMIN_PASSWORD = "bench-admin-pw"
_TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def started(
    workdir: Path,
    *,
    workers: int,
    env: Mapping[str, str | None] | None = None,
    startup_timeout: float = 120.0,
) -> Iterator[DockitServer]:
    """A running ``dockit api-server`` over SQLite in ``workdir`` (``env`` may point it
    elsewhere), stopped by PID when the block ends, however it ends."""
    server = DockitServer(
        workdir,
        services=(SERVICE,),
        admin_password=ADMIN_PASSWORD,
        workers=workers,
        extra_env={"DOCKIT_LOG_LEVEL": "warning", **(env or {})},
        startup_timeout=startup_timeout,
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; everything after its ")" is split cleanly.
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (gunicorn's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds so far of each process in ``pids`` (gone ones count 0)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / _TICKS


def server_pids(server: DockitServer) -> list[int]:
    """gunicorn's master and its workers."""
    if server.pid is None:
        return []
    return [server.pid, *children(server.pid)]


ROOT = Path(__file__).resolve().parents[1]


class ModuleServer(DockitServer):
    """A server process started as ``python -m MODULE ARGS --bind ... --workers N`` from this
    checkout, stopped and accounted like ``dockit api-server`` (it is one of the bench's
    launchers: :mod:`bench.serve_as`, :mod:`bench.minimal_app`). With ``ca_file`` it serves
    HTTPS, and its client trusts that CA."""

    def __init__(
        self,
        workdir: Path,
        module: str,
        args: tuple[str, ...] = (),
        ready_path: str = "/readyz",
        ca_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(workdir, **kwargs)
        self.extra_env.setdefault("PYTHONPATH", str(ROOT))
        self._module = module
        self._args = args
        self._ready_path = ready_path
        self._opener: urllib.request.OpenerDirector | None = None
        if ca_file is not None:
            context = ssl.create_default_context(cafile=ca_file)
            self._opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
            )

    @property
    def url(self) -> str:
        return f"{'https' if self._opener else 'http'}://{self.host}"

    def request(
        self,
        method: str,
        path: str,
        *,
        creds: tuple[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Response:
        if self._opener is None:
            return super().request(
                method, path, creds=creds, json_body=json_body, headers=headers, timeout=timeout
            )
        all_headers = dict(headers or {})
        if creds is not None:
            all_headers["Authorization"] = basic_auth(creds)
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, body, all_headers, method=method)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Response(exc.code, exc.headers, exc.read())

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            self._module,
            *self._args,
            "--bind",
            self.host,
            "--workers",
            str(self.workers),
        ]

    def _ready(self) -> bool:
        try:
            return self.get(self._ready_path, timeout=1.0).status == 200
        except OSError:
            return False


@contextmanager
def started_module(
    workdir: Path,
    module: str,
    args: tuple[str, ...] = (),
    *,
    workers: int,
    ready_path: str = "/readyz",
    env: Mapping[str, str | None] | None = None,
    ca_file: str | None = None,
) -> Iterator[ModuleServer]:
    """Like :func:`started`, for a :class:`ModuleServer`."""
    server = ModuleServer(
        workdir,
        module,
        args,
        ready_path,
        ca_file,
        services=(SERVICE,),
        admin_password=ADMIN_PASSWORD,
        workers=workers,
        extra_env={"DOCKIT_LOG_LEVEL": "warning", **(env or {})},
        startup_timeout=120.0,
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
