"""The workers' metric values (metric_values.FileValue and its writers): a scrape after the
same requests, in two processes of a fork as under gunicorn, shows exactly what
prometheus_client's own multiprocess values show: the same series, labels, counts, bucket
counts and sums, each visible right after the write that made it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.promtext import sample_value

ROOT = Path(__file__).resolve().parents[2]

# Run in a process of its own, as the server's master: prometheus_client is imported after
# the directory is set. "ours" is how `dockit api-server` runs; "theirs" leaves
# prometheus_client's own value class in place (the writers then call observe() and inc()).
_SCRIPT = """
import json, os, sys
mode, directory = sys.argv[1], sys.argv[2]
if mode == "ours":
    from dockit_server import multiproc
    os.environ[multiproc.MULTIPROC_ENV] = directory
    multiproc._use_file_values()
else:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
from prometheus_client import values
from dockit_server.metric_values import FileValue, HistogramWriter
from dockit_server.metrics import Metrics

metrics = Metrics(services=["registry"])
fast = values.ValueClass is FileValue and HistogramWriter(metrics.token_seconds)._sum is not None
remembered = metrics.backend_timer("sql", "remembered")
grants = metrics.backend_timer("ldap", "grants")

def scrape():
    return metrics.exposition().decode()

seen = {}
# Every bucket's bound exactly, between two, below the first and above the last (+Inf).
amounts = [0.0, 1e-9, 0.0002, 0.001, 0.0011, 0.0025, 0.004, 0.01, 0.3, 1.0, 2.5, 5.0, 7.0]
for number, amount in enumerate(amounts):
    metrics.token_request("issued" if number % 3 else "unauthorized", "registry", amount)
    metrics.token_request("issued", "elsewhere", amount / 3)
    remembered.observe(amount)
    grants.observe(amount * 2)
    # Visible at once: a scrape right after the request counts it.
    seen[number] = scrape()
grants.failed()
metrics.audit_backlog.set(4)
# Two workers forked after those writes, each writing a different kind of value first (the
# first write after a fork moves every value to the worker's own files).
for worker in ("counter first", "histogram first"):
    child = os.fork()
    if child == 0:
        if worker == "histogram first":
            remembered.observe(0.0003)
        metrics.token_request("issued", "registry", 0.02)
        remembered.observe(0.0003)
        grants.failed()
        metrics.audit_backlog.set(2)
        metrics.audit_dropped.inc()
        os._exit(0)
    os.waitpid(child, 0)
# The first process goes on writing the same series.
metrics.token_request("issued", "registry", 0.02)
remembered.observe(0.0003)
metrics.token_request("bad_request", None, 0.0007)
print(json.dumps({"fast": fast, "seen": seen, "final": scrape()}))
"""


def _lines(text: object) -> list[str]:
    """A scrape's lines in order (the collector lists the files in directory order)."""
    assert isinstance(text, str)
    return sorted(text.splitlines())


def _run(mode: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="dockit-metric-values-") as directory:
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT, mode, directory],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        )
        found: dict[str, object] = json.loads(done.stdout)
        files = sorted(name.split("_")[0] for name in os.listdir(directory))
        found["files"] = files
        return found


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, object], dict[str, object]]:
    return _run("ours"), _run("theirs")


def test_the_server_writes_through_its_own_values(
    both: tuple[dict[str, object], dict[str, object]],
) -> None:
    ours, theirs = both
    assert ours["fast"] is True
    assert theirs["fast"] is False


def test_a_scrape_after_each_request_is_the_same(
    both: tuple[dict[str, object], dict[str, object]],
) -> None:
    ours, theirs = both
    assert isinstance(ours["seen"], dict)
    assert isinstance(theirs["seen"], dict)
    assert len(ours["seen"]) == 13
    for number, text in ours["seen"].items():
        assert _lines(text) == _lines(theirs["seen"][number])
    first = ours["seen"]["0"]
    assert sample_value(first, "dockit_token_requests_total", outcome="unauthorized") == 1
    assert sample_value(first, "dockit_token_request_seconds_bucket", le="0.001") == 2
    assert sample_value(first, "dockit_backend_seconds_count", operation="remembered") == 1


def test_workers_add_up_in_the_same_files(
    both: tuple[dict[str, object], dict[str, object]],
) -> None:
    ours, theirs = both
    assert _lines(ours["final"]) == _lines(theirs["final"])
    assert ours["files"] == theirs["files"]
    final = ours["final"]
    assert isinstance(final, str)
    # 13 + 13 in the loop, one in each worker, two after them.
    assert sample_value(final, "dockit_token_request_seconds_count") == 30
    assert sample_value(final, "dockit_token_request_seconds_bucket", le="+Inf") == 30
    assert sample_value(final, "dockit_token_request_seconds_bucket", le="0.005") == 7 + 8 + 1
    registry = {"outcome": "issued", "service": "registry"}
    assert sample_value(final, "dockit_token_requests_total", **registry) == 8 + 2 + 1
    assert sample_value(final, "dockit_token_requests_total", service="none") == 1
    assert sample_value(final, "dockit_backend_errors_total", backend="ldap") == 1 + 2
    assert sample_value(final, "dockit_backend_seconds_count", backend="sql") == 13 + 1 + 2 + 1
    assert sample_value(final, "dockit_audit_backlog_events") == 4 + 2 + 2  # none marked dead
