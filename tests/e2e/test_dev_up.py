"""``hack/dev-up.sh``, the README's one-minute path: it starts Dockit, writes the bundle,
starts docker-registry, creates ``alice`` with her grant and a tiny image, and the push it
prints works (while a push outside her grant is denied)."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

from tests.support import skopeo
from tests.support.procs import LOOPBACK, ManagedProcess, free_port, require_binary, wait_until

ROOT = Path(__file__).resolve().parents[2]
READY = "Press Ctrl-C to stop."


def test_dev_up_gives_a_working_first_push(tmp_path: Path) -> None:
    require_binary("docker-registry", hint="apt-get install docker-registry")
    dockit_port, registry_port = free_port(), free_port()
    env = {
        # dockit from this interpreter's environment, as after `pip install .` in a venv.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin')}",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "LANG": "C.UTF-8",
        "DOCKIT_PORT": str(dockit_port),
        "REGISTRY_PORT": str(registry_port),
    }
    process = ManagedProcess(
        ["bash", str(ROOT / "hack" / "dev-up.sh")], log_path=tmp_path / "dev-up.log", env=env
    )
    try:
        wait_until(lambda: READY in process.log() or not process.alive(), timeout=60, what="dev-up")
        log = process.log()
        assert READY in log, log
        assert "granted user:alice repository:alice/**:pull,push" in log
        match = re.search(r"oci:(\S+):latest docker://(\S+)/alice/hello:v1", log)
        assert match is not None, log
        layout, host = match.group(1), match.group(2)
        assert host == f"{LOOPBACK}:{registry_port}"
        creds = ("alice", "alice-pw-2026")
        pushed = skopeo.push(layout, "latest", host, "alice/hello", creds=creds, dest_tag="v1")
        assert pushed.ok, pushed
        denied = skopeo.push(layout, "latest", host, "bob/hello", creds=creds, dest_tag="v1")
        assert not denied.ok
        assert "denied: requested access to the resource is denied" in denied.stderr
    finally:
        # SIGTERM to the script alone, as Ctrl-C would reach it: its trap stops the rest.
        process.stop(signal.SIGTERM, group=False)
    assert "stopped; state was in" in process.log_path.read_text()
