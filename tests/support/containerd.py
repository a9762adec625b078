"""A real containerd (Debian 12: 1.6.20) with its own root, state and sockets, and ``ctr``.

The daemon runs as root with a config that keeps everything in ``workdir``: ``root``,
``state``, the gRPC, ttrpc and debug sockets and the ``opt`` plugin's directory (by default
``/opt/containerd``); the CRI plugin is off (no Kubernetes here). It is ready when
``ctr version`` reaches it, and is stopped by PID (its whole process group). dockerd can
use it as its containerd (``--containerd``).

``ctr`` pushes and pulls with ``--plain-http`` against a loopback registry; with ``--user``
it POSTs the OAuth2 password grant (``client_id=containerd-client``) and falls back to GET
on 400/401/404/405; with ``--refresh`` it POSTs the refresh-token grant.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tests.support.engine_host import unmount_under
from tests.support.procs import ManagedProcess, require_binary, require_root, wait_until

STARTUP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0
#: The namespace images are kept in (ctr's default).
NAMESPACE = "default"


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


class Containerd:
    def __init__(self, workdir: Path) -> None:
        require_root("containerd")
        self.binary = require_binary("containerd", hint="apt-get install containerd")
        self.ctr_binary = require_binary("ctr", hint="apt-get install containerd")
        self.workdir = Path(workdir)
        self.socket = self.workdir / "containerd.sock"
        self.config_path = self.workdir / "config.toml"
        self.log_path = self.workdir / "containerd.log"
        self._process: ManagedProcess | None = None

    def config_text(self) -> str:
        d = self.workdir
        return "\n".join(
            [
                "version = 2",
                f"root = {_toml_str(str(d / 'root'))}",
                f"state = {_toml_str(str(d / 'state'))}",
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
                "[grpc]",
                f"  address = {_toml_str(str(self.socket))}",
                "[ttrpc]",
                f"  address = {_toml_str(str(self.socket) + '.ttrpc')}",
                "[debug]",
                f"  address = {_toml_str(str(d / 'debug.sock'))}",
                '[plugins."io.containerd.internal.v1.opt"]',
                f"  path = {_toml_str(str(d / 'opt'))}",
                "",
            ]
        )

    def version(self) -> str:
        """The daemon's version, e.g. ``1.6.20~ds1``."""
        result = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, timeout=30, check=True
        )
        return result.stdout.split()[2]

    def start(self) -> Containerd:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text())
        self._process = ManagedProcess(
            [self.binary, "--config", str(self.config_path)], log_path=self.log_path
        )

        def answers() -> bool:
            return self.socket.exists() and self.ctr("version", timeout=10).returncode == 0

        try:
            self._process.wait_ready(answers, timeout=STARTUP_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        unmount_under(self.workdir)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ctr(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``ctr -a SOCKET -n default ARGS``; a non-zero exit is returned, not raised."""
        return subprocess.run(
            [self.ctr_binary, "-a", str(self.socket), "-n", NAMESPACE, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )

    def import_layout(self, tar_path: Path, base_name: str) -> list[str]:
        """Import an OCI layout tar as ``BASE_NAME:TAG`` for each tag it holds; returns the
        references imported."""
        before = set(self.images())
        result = self.ctr("images", "import", "--base-name", base_name, str(tar_path))
        if result.returncode != 0:
            raise AssertionError(f"ctr images import: {result.stderr}")
        imported = sorted(
            ref for ref in set(self.images()) - before if ref.startswith(base_name + ":")
        )
        if not imported:
            raise AssertionError(f"nothing imported as {base_name}: {result.stdout}")
        return imported

    def images(self) -> list[str]:
        result = self.ctr("images", "ls", "-q")
        if result.returncode != 0:
            raise AssertionError(f"ctr images ls: {result.stderr}")
        return result.stdout.split()

    def forget(self, reference: str) -> None:
        """Remove the image and every blob, so the next pull must fetch them again."""
        self.ctr("images", "rm", "--sync", reference)
        blobs = self.ctr("content", "ls", "-q").stdout.split()
        if blobs:
            self.ctr("content", "rm", *blobs)
        wait_until(lambda: reference not in self.images(), timeout=10, what=f"{reference} gone")

    def registry_command(
        self,
        verb: str,
        reference: str,
        *,
        user: tuple[str, str] | None = None,
        refresh_token: str | None = None,
        extra: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """``ctr images push|pull --plain-http [--user U:P | --refresh TOKEN] REFERENCE``."""
        auth: list[str] = []
        if user is not None:
            auth = ["--user", f"{user[0]}:{user[1]}"]
        if refresh_token is not None:
            auth += ["--refresh", refresh_token]
        return self.ctr("images", verb, "--plain-http", *auth, *extra, reference)

    def __enter__(self) -> Containerd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
