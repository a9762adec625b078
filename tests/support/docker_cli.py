"""The docker CLI's ``login``, run client-side with no daemon.

``DOCKER_HOST`` points at a socket that does not exist, so the CLI cannot reach an engine and
logs in itself (both Debian 12's docker.io 20.10 and docker 28 fall back to that). A registry
on 127.0.0.1 is treated as insecure: the CLI tries https first, then http.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.procs import require_binary

NO_DAEMON = "unix:///nonexistent"
DEFAULT_TIMEOUT = 60.0


def docker_env(config_dir: Path | str) -> dict[str, str]:
    """A minimal environment: only PATH from the machine, the given config dir, no daemon."""
    config = Path(config_dir)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(config),
        "DOCKER_CONFIG": str(config),
        "DOCKER_HOST": NO_DAEMON,
    }


def docker_login(
    registry_host: str,
    username: str,
    password: str,
    config_dir: Path | str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """``docker login HOST -u USER --password-stdin``; a non-zero exit is returned, not raised."""
    binary = require_binary("docker", hint="apt-get install docker.io (only the CLI is used)")
    Path(config_dir).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [binary, "login", registry_host, "-u", username, "--password-stdin"],
        input=password,
        env=docker_env(config_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_docker_config(config_dir: Path | str) -> dict[str, Any]:
    """``config_dir/config.json`` parsed, or ``{}`` when the CLI has not written one."""
    path = Path(config_dir) / "config.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data
