"""A bounded load: a few client threads calling one function each until a deadline.

Every call's outcome (an HTTP status, or the name of the exception) is counted per label and
kept with its time, so a test can say what was answered while a part was down.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: One call of the load: returns (label, status); the label names what was asked.
Call = Callable[[int, int], tuple[str, int]]


@dataclass
class Outcome:
    at: float  # seconds since the load began
    label: str
    status: int  # HTTP status; 0 when the call raised
    error: str = ""
    end: float = 0.0  # when the answer had arrived


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def statuses(self, label: str | None = None) -> Counter[int]:
        return Counter(o.status for o in self.outcomes if label is None or o.label == label)

    def between(self, start: float, end: float) -> list[Outcome]:
        """The calls that began and ended within [start, end]."""
        return [o for o in self.outcomes if start <= o.at and o.end <= end]

    def statuses_between(self, window: object) -> Counter[int]:
        """Statuses while a part was down (``window`` has ``down_from``/``down_until``)."""
        start = float(getattr(window, "down_from"))  # noqa: B009
        end = float(getattr(window, "down_until"))  # noqa: B009
        return Counter(o.status for o in self.between(start, end))

    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 0 or o.status >= 500]

    def summary(self) -> str:
        labels = sorted({o.label for o in self.outcomes})
        parts = [f"{label}: {dict(sorted(self.statuses(label).items()))}" for label in labels]
        return f"{len(self.outcomes)} requests in {self.seconds:.1f}s; " + "; ".join(parts)


def run_load(
    calls: Sequence[Call],
    *,
    seconds: float,
    stop: threading.Event | None = None,
    pause: float = 0.0,
    began: float | None = None,
) -> LoadResult:
    """Run each of ``calls`` in its own thread, repeatedly, for ``seconds`` (or until ``stop``).

    The call gets (thread index, iteration); an exception is recorded as status 0. Times
    are counted from ``began`` (a ``time.monotonic()`` value; default: now).
    """
    result = LoadResult()
    lock = threading.Lock()
    began = time.monotonic() if began is None else began
    deadline = began + seconds
    stop = stop or threading.Event()

    def worker(index: int, call: Call) -> None:
        iteration = 0
        while time.monotonic() < deadline and not stop.is_set():
            at = time.monotonic() - began
            try:
                label, status = call(index, iteration)
                outcome = Outcome(at, label, status)
            except Exception as exc:  # every failure is a counted outcome
                outcome = Outcome(at, "exception", 0, f"{type(exc).__name__}: {exc}")
            outcome.end = time.monotonic() - began
            with lock:
                result.outcomes.append(outcome)
            iteration += 1
            if pause:
                time.sleep(pause)

    threads = [
        threading.Thread(target=worker, args=(i, call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    result.seconds = time.monotonic() - began
    return result
