"""Worst-case cost of matching a grant pattern against a crafted resource name.

``python3 -m bench.pattern_cost [CAP_SECONDS]``: for each crafted case (the adversarial
patterns and names of ``tests/hardening/test_properties.py``), the time Dockit's matcher
takes on names of 32 characters up to the 255 a name may have, against the backtracking
regular expression patterns used to compile to (reproduced here as the baseline). A regex
match runs in a child process and is stopped after ``CAP_SECONDS`` (default 20): it holds
the GIL, so only killing the process ends it. Prints a Markdown table; measures, never
asserts.
"""

from __future__ import annotations

import multiprocessing
import re
import statistics
import sys
import time
from collections.abc import Callable

from libdockit.patterns import compile_pattern

LENGTHS = (32, 64, 128, 255)
CASES = (
    ("*a*a*a*a*a*a*b", "a" * 255),
    ("**a**a**a**a**a**a**b", "a" * 255),
    ("pub/*-*-*-*-*-*-*-x", "pub/" + "a-" * 125 + "a"),
    ("**-**-**-**-**/x", "-".join(["a"] * 127)),
    ("**/" + "a/" * 40 + "b/**", "/".join(["a"] * 128)),
    ("**/" + "*a/" * 40 + "b/**", "/".join(["a"] * 128)),
)


def backtracking_regex(pattern: str) -> re.Pattern[str]:
    """What a pattern used to compile to: ``**`` -> ``.*``, ``*`` -> ``[^/]*``."""
    parts = []
    for token in re.split(r"(\*\*|\*)", pattern):
        parts.append(".*" if token == "**" else "[^/]*" if token == "*" else re.escape(token))
    return re.compile("".join(parts))


def _seconds(match: Callable[[str], object], name: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        match(name)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _regex_child(pattern: str, name: str, out: multiprocessing.SimpleQueue[float]) -> None:
    out.put(_seconds(backtracking_regex(pattern).fullmatch, name, 1))


def regex_seconds(pattern: str, name: str, cap: float) -> float | None:
    """Seconds for one regex match, or None when it was stopped after ``cap``."""
    out: multiprocessing.SimpleQueue[float] = multiprocessing.SimpleQueue()
    child = multiprocessing.Process(target=_regex_child, args=(pattern, name, out))
    child.start()
    child.join(cap)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return out.get()


def _show(seconds: float | None, cap: float) -> str:
    if seconds is None:
        return f"> {cap:.0f} s (stopped)"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} us"


def main(argv: list[str]) -> int:
    cap = float(argv[0]) if argv else 20.0
    print("| pattern | name (255 chars) | " + " | ".join(f"{n} chars" for n in LENGTHS) + " |")
    print("| --- | --- |" + " ---: |" * len(LENGTHS))
    for pattern, name in CASES:
        matcher = compile_pattern(pattern)
        after: list[float] = []
        before: list[float | None] = []
        stopped = False
        for length in LENGTHS:
            prefix = name[:length]
            after.append(_seconds(matcher.matches, prefix, 200))
            if stopped:
                before.append(None)
                continue
            seconds = regex_seconds(pattern, prefix, cap)
            before.append(seconds)
            stopped = seconds is None
        cells = [f"{_show(b, cap)} → {_show(a, cap)}" for b, a in zip(before, after, strict=True)]
        shown = pattern if len(pattern) <= 30 else pattern[:27] + "..."
        print(f"| `{shown}` | `{name[:12]}...` | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
