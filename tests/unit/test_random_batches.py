"""Random ids drawn in batches: all different, and a forked child hands out none of the
values its parent drew before the fork."""

from __future__ import annotations

import os

import pytest

from libdockit.random_batches import BATCH, RandomBatches


def test_every_value_is_new_across_batches() -> None:
    draw = RandomBatches(bytes.hex, size=16)
    values = [draw() for _ in range(BATCH * 5 + 3)]
    assert len(set(values)) == len(values)
    assert all(len(value) == 32 for value in values)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_its_own() -> None:
    draw = RandomBatches(bytes.hex, size=16)
    draw()  # a batch drawn, most of it not handed out yet
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reading)
            os.write(writing, "".join(draw() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(writing)
    child = os.read(reading, 4096).decode()
    os.close(reading)
    os.waitpid(pid, 0)
    parents = {draw() for _ in range(BATCH)}
    assert len(child) == 96
    assert not {child[at : at + 32] for at in range(0, 96, 32)} & parents
