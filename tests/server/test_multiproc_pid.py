"""Metrics with the process id remembered (multiproc.use_fresh_metrics_dir, which ``dockit
api-server`` calls first): a value is written with the remembered id, not the kernel's,
and a forked worker still writes its own file, so no count is lost or counted twice."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.promtext import sample_value

# Run in a process of its own, as the server's master: prometheus_client is imported after
# the directory is set, and the value class is chosen before any metric is made.
_SCRIPT = """
import json, os
from dockit_server import multiproc
directory = multiproc.use_fresh_metrics_dir()
from prometheus_client import Counter
counter = Counter("forked", "Counted on both sides of a fork.", registry=None)
counter.inc()
# The values take the process id from memory: a pretended one shows in the file name.
from dockit_server import metric_values
metric_values._pid = 4242424
Counter("pretended", "Written under the pretended process id.", registry=None).inc()
metric_values._pid = os.getpid()
child = os.fork()
if child == 0:
    counter.inc(5)
    os._exit(0)
os.waitpid(child, 0)
counter.inc()
print(json.dumps({"dir": str(directory), "parent": os.getpid(), "child": child}))
"""


def test_a_forked_child_writes_its_own_file() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    found = json.loads(done.stdout)
    directory = Path(found["dir"])
    try:
        assert (directory / "counter_4242424.db").exists()  # no getpid() per write
        assert (directory / f"counter_{found['parent']}.db").exists()
        assert (directory / f"counter_{found['child']}.db").exists()
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
        text = generate_latest(registry).decode()
        assert sample_value(text, "forked_total") == 1 + 5 + 1
        assert sample_value(text, "pretended_total") == 1
    finally:
        shutil.rmtree(directory, ignore_errors=True)
