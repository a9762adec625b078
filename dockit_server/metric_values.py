"""The values behind the workers' metrics: prometheus_client's multiprocess files, written
with less work per write.

In multiprocess mode prometheus_client keeps every value (a counter, a histogram's sum and
each of its buckets) as a pair of doubles in an mmap'ed file of the process
(``{kind}_{pid}.db``, laid out by its ``MmapedDict``), and ``/metrics`` sums the files of
every worker. Its value class writes through three calls (a fork check, the file's
``write_value``, a pack) under a lock taken per value, and a histogram observation takes
it twice (the sum, then the bucket); a token request writes seven values.

:class:`FileValue` writes the same files, under the same names and keys (``MmapedDict``
still creates each file and places each key; the value keeps its key's offset and writes
the pair there, as ``write_value`` does), and :class:`HistogramWriter` writes an
observation's sum and bucket under one lock. A fork is noticed as before, at the next
write: the child moves every value to files of its own and carries on from what they hold.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Sequence
from struct import Struct
from threading import Lock
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.mmap_dict import MmapedDict, mmap_key

_pack = Struct("dd").pack

#: The process id, renewed in every child at a fork (asking the kernel per write costs a
#: system call), and the process whose files are open.
_pid = os.getpid()
_files_pid = _pid
#: One lock for every value, as prometheus_client has: a process's values share its files.
_lock = Lock()
_files: dict[str, MmapedDict] = {}
_values: list[FileValue] = []


def _after_fork() -> None:
    global _pid, _lock  # noqa: PLW0603 - process-wide state, renewed in a forked child
    _pid = os.getpid()
    # A thread of the parent may have held it: it would never be released in the child.
    _lock = Lock()


os.register_at_fork(after_in_child=_after_fork)


def _follow_fork() -> None:
    """After a fork, move every value to this process's files (with the lock held)."""
    global _files_pid  # noqa: PLW0603 - see _pid
    if _files_pid == _pid:
        return
    _files_pid = _pid
    for file in _files.values():
        file.close()  # type: ignore[no-untyped-call]
    _files.clear()
    for value in _values:
        value.open()


class FileValue:
    """A value in this process's file of its kind of metric (``values.ValueClass`` in
    multiprocess mode, see :func:`~.multiproc.use_fresh_metrics_dir`)."""

    _multiprocess = True
    __slots__ = ("_file", "_file_kind", "_key", "_offset", "_timestamp", "_value")

    def __init__(  # noqa: PLR0917 - prometheus_client calls it so
        self,
        typ: str,
        metric_name: str,
        name: str,
        labelnames: Sequence[str],
        labelvalues: Sequence[str],
        help_text: str,
        multiprocess_mode: str = "",
        **_: Any,
    ) -> None:
        self._key = mmap_key(metric_name, name, labelnames, labelvalues, help_text)  # type: ignore[arg-type]
        self._file_kind = typ + "_" + multiprocess_mode if typ == "gauge" else typ
        with _lock:
            _follow_fork()
            self.open()
            _values.append(self)

    def open(self) -> None:
        """Find the value in this process's file (placed there, 0, if new)."""
        kind = self._file_kind
        file = _files.get(kind)
        if file is None:
            directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
            path = os.path.join(directory, f"{kind}_{_pid}.db")
            file = _files[kind] = MmapedDict(path)  # type: ignore[no-untyped-call]
        self._file = file
        pair: tuple[float, float] = file.read_value(self._key)  # type: ignore[no-untyped-call]
        self._value, self._timestamp = pair
        self._offset: int = file._positions[self._key]

    def add(self, amount: float) -> None:
        """Add ``amount`` and write the value (with the lock held and the fork followed)."""
        self._value = value = self._value + amount
        self._timestamp = 0.0
        offset = self._offset
        self._file._m[offset : offset + 16] = _pack(value, 0.0)

    def inc(self, amount: float) -> None:
        with _lock:
            _follow_fork()
            self.add(amount)

    def set(self, value: float, timestamp: float | None = None) -> None:
        with _lock:
            _follow_fork()
            self._value = value
            self._timestamp = timestamp or 0.0
            offset = self._offset
            self._file._m[offset : offset + 16] = _pack(value, self._timestamp)

    def get(self) -> float:
        with _lock:
            _follow_fork()
            return self._value

    def set_exemplar(self, exemplar: object) -> None:
        """Exemplars are not kept in multiprocess mode (as prometheus_client's own)."""

    def get_exemplar(self) -> None:
        return None


class CounterWriter:
    """``counter.inc()`` of an observable counter (no labels, or a labelled child), written
    straight to its :class:`FileValue`; through ``inc`` itself in any other mode."""

    __slots__ = ("_counter", "_value")

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        value = getattr(counter, "_value", None)
        self._value = value if isinstance(value, FileValue) else None

    def inc(self) -> None:
        value = self._value
        if value is None:
            self._counter.inc()
            return
        with _lock:
            _follow_fork()
            value.add(1.0)


class HistogramWriter:
    """``histogram.observe(amount)`` of an observable histogram, its sum and its bucket
    written under one lock; through ``observe`` itself in any other mode."""

    __slots__ = ("_bounds", "_buckets", "_histogram", "_sum")

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        sum_value = getattr(histogram, "_sum", None)
        buckets = getattr(histogram, "_buckets", None)
        bounds = getattr(histogram, "_upper_bounds", None)
        self._sum: FileValue | None = None
        self._buckets: list[FileValue] = []
        self._bounds: list[float] = []
        if (
            isinstance(sum_value, FileValue)
            and isinstance(buckets, list)
            and isinstance(bounds, list)
            and len(buckets) == len(bounds)
            and all(isinstance(bucket, FileValue) for bucket in buckets)
        ):
            self._sum, self._buckets, self._bounds = sum_value, buckets, bounds

    def observe(self, amount: float) -> None:
        sum_value = self._sum
        if sum_value is None:
            self._histogram.observe(amount)
            return
        bounds = self._bounds
        # The first bucket whose bound is at least the amount (none for NaN), as observe().
        index = bisect_left(bounds, amount)
        with _lock:
            _follow_fork()
            sum_value.add(amount)
            if index < len(bounds) and amount <= bounds[index]:
                self._buckets[index].add(1.0)
