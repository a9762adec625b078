"""The remembered process id is renewed in a forked child."""

from __future__ import annotations

import os

import pytest

from libdockit.process import current_pid


def test_the_id_is_this_processs() -> None:
    assert current_pid() == os.getpid()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_has_its_own_id() -> None:
    parent = current_pid()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if current_pid() == os.getpid() != parent else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
