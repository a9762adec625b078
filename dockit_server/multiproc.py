"""The directory where every gunicorn worker writes its metrics.

prometheus_client decides at import time whether it runs in multiprocess mode, so
``PROMETHEUS_MULTIPROC_DIR`` must be set before anything imports it: this module imports
nothing of it, and ``dockit api-server`` calls :func:`use_fresh_metrics_dir` first (which
then imports it, see :func:`_remember_pid_for_metrics`).
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
        _remember_pid_for_metrics()
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


_pid = os.getpid()


def _note_pid_after_fork() -> None:
    global _pid  # noqa: PLW0603 - the process id, which changes only at a fork
    _pid = os.getpid()


os.register_at_fork(after_in_child=_note_pid_after_fork)


def _current_pid() -> int:
    return _pid


def _remember_pid_for_metrics() -> None:
    """Let prometheus_client's multiprocess values read this process's id from memory.

    Every write of a multiprocess value asks the kernel for the process id, to notice a
    fork and move to files of the new process's own (seven writes, so seven system calls,
    per token request). The id changes only at a fork, so it is remembered here and
    renewed in every child (``os.register_at_fork``): the values notice a fork exactly as
    before, in the workers gunicorn forks from the master. Installed only in a process
    that has made no metric yet, so that every metric of the process (and of its
    children) uses the one value class.
    """
    from prometheus_client import values  # here: only once MULTIPROC_ENV is set

    if os.environ.get(MULTIPROC_ENV) and getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue(  # type: ignore[no-untyped-call]
            process_identifier=_current_pid
        )
