"""Thin wrappers around the skopeo 1.9.3 CLI for end-to-end tests.

Each call runs skopeo in a private throw-away environment: its own ``HOME``,
``XDG_RUNTIME_DIR``, ``--authfile`` / ``REGISTRY_AUTH_FILE`` (an empty ``{}``), trust policy
(``insecureAcceptAnything``) and an empty ``registries.conf``, and an environment that holds
only ``PATH`` (so no proxy variable and no login of the machine's user leaks in). Registries
are plain HTTP on loopback (``--tls-verify=false``), skopeo retries nothing
(``--retry-times 0``) and every call is bounded by ``--command-timeout`` and a subprocess
timeout.

A non-zero exit is returned, never raised: tests assert on :class:`SkopeoResult`. A call that
does not finish in time raises :class:`subprocess.TimeoutExpired`, because a hang is not an
answer from the registry and must not pass for a refusal.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.procs import require_binary

DEFAULT_TIMEOUT = 60.0
Creds = tuple[str, str]


@dataclass(frozen=True)
class SkopeoResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"skopeo exited {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def _cred_args(prefix: str, creds: Creds | None, token: str | None) -> list[str]:
    if creds is not None and token is not None:
        raise ValueError("pass creds or token, not both")
    if token is not None:
        return [f"--{prefix}registry-token", token]
    if creds is None:
        return [f"--{prefix}no-creds"]
    username, password = creds
    return [f"--{prefix}creds", f"{username}:{password}"]


def run_skopeo(args: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> SkopeoResult:
    """Run ``skopeo ARGS`` in a private environment; never raises on a non-zero exit.

    An argument that is exactly ``{authfile}`` is replaced by the private auth file's path.
    """
    binary = require_binary("skopeo", hint="apt-get install skopeo")
    with tempfile.TemporaryDirectory(prefix="dockit-skopeo-") as tmp:
        home = Path(tmp)
        runtime = home / "run"
        runtime.mkdir(mode=0o700)
        authfile = home / "auth.json"
        authfile.write_text("{}")
        policy = home / "policy.json"
        policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        registries_conf = home / "registries.conf"
        registries_conf.write_text("")
        registries_d = home / "registries.d"
        registries_d.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_CONFIG_HOME": str(home / "config"),
            "REGISTRY_AUTH_FILE": str(authfile),
            "DOCKER_CONFIG": str(home / "docker"),
            "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
            "TMPDIR": str(home),
        }
        command = [
            binary,
            "--policy",
            str(policy),
            "--registries.d",
            str(registries_d),
            "--command-timeout",
            f"{int(timeout)}s",
            *(str(authfile) if arg == "{authfile}" else arg for arg in args),
        ]
        completed = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout + 10,
            check=False,
        )
    return SkopeoResult(completed.returncode, completed.stdout, completed.stderr)


def _docker_ref(registry_host: str, repo: str, tag: str | None = None) -> str:
    return f"docker://{registry_host}/{repo}" + (f":{tag}" if tag is not None else "")


def push(
    layout_dir: Path | str,
    tag: str,
    registry_host: str,
    repo: str,
    *,
    creds: Creds | None,
    token: str | None = None,
    dest_tag: str | None = None,
    cert_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SkopeoResult:
    """``skopeo copy oci:LAYOUT:TAG docker://HOST/REPO:TAG`` (anonymous when creds is None).

    With ``cert_dir`` (a directory of ``*.crt`` CA certificates) skopeo speaks HTTPS and
    verifies the registry's certificate and the token realm's against those CAs; without it,
    plain HTTP and no verification.
    """
    tls = ["--dest-tls-verify=false"]
    if cert_dir is not None:
        tls = ["--dest-tls-verify=true", "--dest-cert-dir", str(cert_dir)]
    return run_skopeo(
        [
            "copy",
            "--retry-times",
            "0",
            "--src-authfile",
            "{authfile}",
            "--dest-authfile",
            "{authfile}",
            *tls,
            *_cred_args("dest-", creds, token),
            f"oci:{layout_dir}:{tag}",
            _docker_ref(registry_host, repo, dest_tag or tag),
        ],
        timeout=timeout,
    )


def pull(
    registry_host: str,
    repo: str,
    tag: str,
    dest_dir: Path | str,
    *,
    creds: Creds | None,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SkopeoResult:
    """``skopeo copy docker://HOST/REPO:TAG oci:DEST_DIR:TAG``."""
    return run_skopeo(
        [
            "copy",
            "--retry-times",
            "0",
            "--src-authfile",
            "{authfile}",
            "--dest-authfile",
            "{authfile}",
            "--src-tls-verify=false",
            *_cred_args("src-", creds, token),
            _docker_ref(registry_host, repo, tag),
            f"oci:{dest_dir}:{tag}",
        ],
        timeout=timeout,
    )


def inspect(
    registry_host: str,
    repo: str,
    tag: str,
    *,
    creds: Creds | None,
    token: str | None = None,
    raw: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> SkopeoResult:
    """``skopeo inspect docker://HOST/REPO:TAG`` (``--raw``: the manifest as stored)."""
    return run_skopeo(
        [
            "inspect",
            "--retry-times",
            "0",
            "--authfile",
            "{authfile}",
            "--tls-verify=false",
            *_cred_args("", creds, token),
            *(["--raw"] if raw else []),
            _docker_ref(registry_host, repo, tag),
        ],
        timeout=timeout,
    )


def list_tags(
    registry_host: str,
    repo: str,
    *,
    creds: Creds | None,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SkopeoResult:
    """``skopeo list-tags docker://HOST/REPO``; stdout is ``{"Repository":..., "Tags":[...]}``."""
    return run_skopeo(
        [
            "list-tags",
            "--retry-times",
            "0",
            "--authfile",
            "{authfile}",
            "--tls-verify=false",
            *_cred_args("", creds, token),
            _docker_ref(registry_host, repo),
        ],
        timeout=timeout,
    )


def delete(
    registry_host: str,
    repo: str,
    tag: str,
    *,
    creds: Creds | None,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SkopeoResult:
    """``skopeo delete docker://HOST/REPO:TAG`` (deletes the manifest the tag points at)."""
    return run_skopeo(
        [
            "delete",
            "--retry-times",
            "0",
            "--authfile",
            "{authfile}",
            "--tls-verify=false",
            *_cred_args("", creds, token),
            _docker_ref(registry_host, repo, tag),
        ],
        timeout=timeout,
    )


def inspect_layout(
    layout_dir: Path | str, tag: str, *, raw: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> SkopeoResult:
    """``skopeo inspect oci:LAYOUT:TAG`` (local, no registry)."""
    return run_skopeo(
        ["inspect", *(["--raw"] if raw else []), f"oci:{layout_dir}:{tag}"], timeout=timeout
    )
