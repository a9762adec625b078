"""This process's id without a system call per question.

glibc no longer caches ``getpid``, and some per-request checks ("was this made in this
process, or inherited through a fork?") would otherwise ask the kernel on every token. The
id is read once and renewed in every child :func:`os.fork` makes (``os.register_at_fork``),
which is how gunicorn makes its workers.
"""

from __future__ import annotations

import os

_pid = [os.getpid()]


def _renew() -> None:
    _pid[0] = os.getpid()


os.register_at_fork(after_in_child=_renew)


def current_pid() -> int:
    """``os.getpid()``, remembered."""
    return _pid[0]
