"""Random values for ids (token ids, request ids) drawn from the kernel in batches.

``os.urandom`` is a system call; the token path needs two random ids per request. Drawing 64
at a time makes that one call per 64 requests. The values not handed out yet are dropped in a
forked child (gunicorn forks its workers from one master), so no two processes hand out the
same ones, and a deque's ``popleft`` is atomic, so no two threads do. The ids are not secrets
(a token carries its ``jti``), and each is still 128 bits from the kernel's CSPRNG.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable

BATCH = 64


class RandomBatches:
    """``encode(os.urandom(size))`` per call, drawn ``BATCH`` at a time."""

    def __init__(self, encode: Callable[[bytes], str], *, size: int = 16) -> None:
        self._encode = encode
        self._size = size
        self._ready: deque[str] = deque()
        os.register_at_fork(after_in_child=self._ready.clear)

    def __call__(self) -> str:
        try:
            return self._ready.popleft()
        except IndexError:
            size, encode = self._size, self._encode
            drawn = os.urandom(size * BATCH)
            self._ready.extend(
                encode(drawn[at : at + size]) for at in range(size, len(drawn), size)
            )
            return encode(drawn[:size])
