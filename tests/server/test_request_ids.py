"""Generated request ids: 32 hex digits, and a forked worker never repeats its parent's."""

from __future__ import annotations

import os
import re

from dockit_server.middleware import new_request_id


def test_ids_are_128_bit_hex_and_differ() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    """gunicorn forks every worker from one master: without a new seed after the fork,
    two workers would hand out the same sequence of ids."""
    new_request_id()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only writes and leaves
        os.write(write_end, "".join(new_request_id() for _ in range(4)).encode())
        os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(child, 0)
    assert status == 0
    with os.fdopen(read_end, "rb") as pipe:
        childs = pipe.read().decode()
    parents = "".join(new_request_id() for _ in range(4))
    assert len(childs) == len(parents) == 4 * 32
    assert childs != parents
