"""The directory where every gunicorn worker writes its metrics.

prometheus_client decides at import time whether it runs in multiprocess mode, so
``PROMETHEUS_MULTIPROC_DIR`` must be set before anything imports it: this module imports
nothing of it, and ``dockit api-server`` calls :func:`use_fresh_metrics_dir` first (which
then imports it, see :func:`_use_file_values`).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


_owner_pid: int | None = None


def use_fresh_metrics_dir() -> Path:
    """Create an empty directory for this run's workers and point the environment at it."""
    global _owner_pid  # noqa: PLW0603 - one directory per process, owned by the master
    first = "prometheus_client" not in sys.modules
    directory = Path(tempfile.mkdtemp(prefix="dockit-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    _owner_pid = os.getpid()
    if first:  # no metric made in this process yet
        _use_file_values()
    return directory


def remove_metrics_dir(directory: Path) -> None:
    """Remove the directory, in the master only.

    gunicorn workers are forks that leave through ``sys.exit``, which unwinds the master's
    stack frames copied into them; without this check the first worker to exit would
    delete the directory under the others.
    """
    if os.getpid() != _owner_pid:
        return
    shutil.rmtree(directory, ignore_errors=True)
    if os.environ.get(MULTIPROC_ENV) == str(directory):
        del os.environ[MULTIPROC_ENV]


def _use_file_values() -> None:
    """Let this process's metrics write their multiprocess files through
    :class:`~.metric_values.FileValue`: the files prometheus_client's own value class
    writes, with the process id read from memory (renewed at every fork) rather than asked
    of the kernel per write, and less work per write.

    Installed only in a process that has made no metric yet, so that every metric of the
    process (and of the workers gunicorn forks from it) uses the one value class.
    """
    from prometheus_client import values  # here: only once MULTIPROC_ENV is set

    from .metric_values import FileValue

    if os.environ.get(MULTIPROC_ENV) and getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = FileValue
