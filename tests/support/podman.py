"""Real podman (Debian 12: 4.3.1) with its own storage, run and temp directories.

podman has no daemon: each command runs as root with ``--root``, ``--runroot``, ``--tmpdir``
and ``--network-config-dir`` in ``workdir``, the vfs storage driver, cgroupfs and file
events, and an environment holding only ``PATH``, ``HOME``, ``TMPDIR`` (image pulls stage
there) and ``REGISTRY_AUTH_FILE``, so no login of the machine leaks in. It talks plain HTTP
to a loopback registry (``--tls-verify=false``).

podman is containers/image: with ``podman login`` it asks for tokens by GET with Basic
credentials; given an auth file with docker's ``identitytoken`` it POSTs
``grant_type=refresh_token``, chunked. The empty directories podman makes on the host
whatever its flags (``/run/containers/networks``) are removed by :meth:`Podman.close`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.engine_host import HostLeftovers, unmount_under
from tests.support.procs import require_binary, require_root

COMMAND_TIMEOUT = 120.0
HOST_PATHS = (Path("/run/containers/networks"), Path("/run/containers"))


class Podman:
    def __init__(self, workdir: Path) -> None:
        require_root("podman")
        self.binary = require_binary("podman", hint="apt-get install podman")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._leftovers = HostLeftovers(HOST_PATHS)

    def version(self) -> str:
        result = self.run("version", "--format", "{{.Client.Version}}", auth_file=None)
        if result.returncode != 0:
            raise AssertionError(f"podman version: {result.stderr}")
        return result.stdout.strip()

    def run(
        self,
        *args: str,
        auth_file: Path | None,
        input_text: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """``podman ARGS`` with ``REGISTRY_AUTH_FILE=auth_file`` (None: an empty one)."""
        d = self.workdir
        tmp = d / "tmp"
        tmp.mkdir(exist_ok=True)
        if auth_file is None:
            auth_file = d / "no-auth.json"
            auth_file.write_text("{}")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(d),
            "TMPDIR": str(tmp),
            "REGISTRY_AUTH_FILE": str(auth_file),
        }
        command = [
            self.binary,
            "--root",
            str(d / "root"),
            "--runroot",
            str(d / "run"),
            "--tmpdir",
            str(d / "libpod-tmp"),
            "--network-config-dir",
            str(d / "networks"),
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            *args,
        ]
        return subprocess.run(
            command,
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def close(self) -> None:
        """Detach what podman left mounted under its roots; remove the host dirs it made."""
        unmount_under(self.workdir)
        self._leftovers.clean()
