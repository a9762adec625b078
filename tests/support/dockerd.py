"""A real Docker engine (Debian 12's docker.io: dockerd 20.10) and the docker CLI against it.

dockerd runs as root with its own data root, exec root, pid file, socket and config file
(which moves its identity key out of ``/etc/docker``), on a containerd the caller started
(see :mod:`tests.support.containerd`), with the vfs storage driver and no networking of its
own (no bridge, no iptables): it only pushes, pulls and imports. ``insecure_registries``
lets it speak plain HTTP to a loopback registry. It is ready when ``docker version`` reaches
it; it is stopped by PID, then any mount it left under its roots (the ``netns/default`` nsfs
mount) is detached and the empty directories it made on the host removed.

``docker login`` through the daemon stores the identity token (``identitytoken``) the token
server returns; push and pull then POST ``grant_type=refresh_token`` (moby never uses GET
once it holds one).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.engine_host import HostLeftovers, unmount_under
from tests.support.procs import ManagedProcess, require_binary, require_root

STARTUP_TIMEOUT = 60.0
COMMAND_TIMEOUT = 120.0
#: Fixed paths dockerd creates on the host whatever its roots are.
HOST_PATHS = (Path("/run/docker/plugins"), Path("/run/docker"))


class Dockerd:
    def __init__(
        self, workdir: Path, *, containerd_socket: Path, insecure_registries: Sequence[str]
    ) -> None:
        require_root("dockerd")
        self.binary = require_binary("dockerd", hint="apt-get install docker.io")
        self.cli = require_binary("docker", hint="apt-get install docker.io")
        self.workdir = Path(workdir)
        self.containerd_socket = containerd_socket
        self.insecure_registries = list(insecure_registries)
        self.socket = self.workdir / "docker.sock"
        self.data_root = self.workdir / "data"
        self.exec_root = self.workdir / "exec"
        self.log_path = self.workdir / "dockerd.log"
        self._process: ManagedProcess | None = None
        self._leftovers: HostLeftovers | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def config(self) -> dict[str, Any]:
        return {
            # dockerd 20.10 writes its identity key to /etc/docker/key.json unless told.
            "deprecated-key-path": str(self.workdir / "key.json"),
            "insecure-registries": self.insecure_registries,
            "storage-driver": "vfs",
            "iptables": False,
            "ip6tables": False,
            "ip-forward": False,
            "ip-masq": False,
            "bridge": "none",
            "userland-proxy": False,
        }

    def command(self) -> list[str]:
        config_path = self.workdir / "daemon.json"
        config_path.write_text(json.dumps(self.config(), indent=2))
        return [
            self.binary,
            "--config-file",
            str(config_path),
            "--data-root",
            str(self.data_root),
            "--exec-root",
            str(self.exec_root),
            "--pidfile",
            str(self.workdir / "dockerd.pid"),
            "--host",
            self.host,
            "--containerd",
            str(self.containerd_socket),
        ]

    def start(self) -> Dockerd:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._leftovers = HostLeftovers(HOST_PATHS)
        self._process = ManagedProcess(self.command(), log_path=self.log_path)
        config_dir = self.workdir / "cli-probe"

        def answers() -> bool:
            return self.socket.exists() and self.docker(config_dir, "version").returncode == 0

        try:
            self._process.wait_ready(answers, timeout=STARTUP_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop(timeout=30)
            self._process = None
        unmount_under(self.exec_root, self.data_root)
        if self._leftovers is not None:
            self._leftovers.clean()
            self._leftovers = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def version(self) -> str:
        """The engine's version, e.g. ``20.10.24+dfsg1``."""
        result = self.docker(self.workdir / "cli-probe", "version", "-f", "{{.Server.Version}}")
        if result.returncode != 0:
            raise AssertionError(f"docker version: {result.stderr}")
        return result.stdout.strip()

    def docker(
        self,
        config_dir: Path,
        *args: str,
        input_text: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """``docker ARGS`` against this engine with ``DOCKER_CONFIG=config_dir`` (where
        ``docker login`` keeps credentials); a non-zero exit is returned, not raised."""
        config_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(config_dir),
            "DOCKER_CONFIG": str(config_dir),
            "DOCKER_HOST": self.host,
        }
        return subprocess.run(
            [self.cli, *args],
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def import_files(self, config_dir: Path, files: dict[str, bytes], reference: str) -> None:
        """``docker import`` a root filesystem holding ``files`` as image ``reference``."""
        tar_path = self.workdir / ("rootfs-" + re.sub(r"[^A-Za-z0-9.-]", "_", reference) + ".tar")
        with tarfile.open(tar_path, "w") as tar:
            for name, content in sorted(files.items()):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, fileobj=io.BytesIO(content))
        result = self.docker(config_dir, "import", str(tar_path), reference)
        if result.returncode != 0:
            raise AssertionError(f"docker import: {result.stderr}")

    def __enter__(self) -> Dockerd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
