"""Rows of the results table, the notes under it, and the scale curve."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

MET, MISSED, INFO, NOT_AVAILABLE, ERROR = "met", "MISSED", "-", "n/a", "ERROR"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table. ``ratio`` is preformatted, naming what it is a ratio to."""

    number: str
    scenario: str
    value: str
    ratio: str = ""
    target: str = ""
    status: str = INFO
    cpu: str = ""  # server CPU per request, when measured


@dataclass(frozen=True, slots=True)
class ScalePoint:
    users: int
    generation_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    #: The same request right after a change to the store: groups and grants read afresh.
    changed_p50_ms: float = float("nan")
    changed_p99_ms: float = float("nan")


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    curve: list[ScalePoint] = field(default_factory=list)
    #: /healthz requests per second measured in this run (the baseline), once measured:
    #: with a new connection per request, and with kept-alive connections.
    baseline_rate: float | None = None
    baseline_keepalive_rate: float | None = None
    #: Extra sections for RESULTS.md: (title, markdown).
    sections: list[tuple[str, str]] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  -> {row.number} {row.scenario}: {row.value} {row.ratio} {row.status}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def errors(self) -> int:
        return sum(1 for row in self.rows if row.status == ERROR)


def judge(ok: bool) -> str:
    return MET if ok else MISSED


def ratio_to_baseline(
    report: Report, rate: float, *, keepalive: bool = False
) -> tuple[str, float | None]:
    """``rate`` against the /healthz baseline measured the same way (connections kept
    alive or not)."""
    baseline = report.baseline_keepalive_rate if keepalive else report.baseline_rate
    if not baseline:
        return "", None
    ratio = rate / baseline
    return f"{ratio:.2f}x /healthz", ratio


def both_ratios(report: Report, new_connection: float, keepalive: float) -> str:
    """Both ratios to the baseline, for a row that reports a rate both ways."""
    first, _ = ratio_to_baseline(report, new_connection)
    second, _ = ratio_to_baseline(report, keepalive, keepalive=True)
    if not first:
        return ""
    return f"{first} new connection, {second.split('x')[0]}x kept alive"


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000.0


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples`` (not empty)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(pct / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def fmt_rate(rate: float) -> str:
    return f"{rate:,.0f} req/s"


_HEADERS = ("#", "scenario", "result", "ratio", "target", "status", "server CPU/req")


def _cells(row: Row) -> tuple[str, ...]:
    return (row.number, row.scenario, row.value, row.ratio, row.target, row.status, row.cpu)


def text_table(rows: Sequence[Row]) -> str:
    cells = [_HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(rows: Sequence[Row]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(_HEADERS), line(["---"] * len(_HEADERS))]
    out += [line(_cells(row)) for row in rows]
    return "\n".join(out)


def curve_table(curve: Sequence[ScalePoint]) -> str:
    """Markdown: users, generation time, p50/p99 (cached, and right after a store change)
    and their ratios to the empty store."""
    empty = next((p for p in curve if p.users == 0), None)
    out = [
        "| users | generation | p50 | p99 | p50 / empty | p99 / empty "
        "| after a change: p50 | p99 | p50 / empty | p99 / empty | requests |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for point in curve:
        r50 = f"{point.p50_ms / empty.p50_ms:.2f}x" if empty else ""
        r99 = f"{point.p99_ms / empty.p99_ms:.2f}x" if empty else ""
        c50 = f"{point.changed_p50_ms / empty.changed_p50_ms:.2f}x" if empty else ""
        c99 = f"{point.changed_p99_ms / empty.changed_p99_ms:.2f}x" if empty else ""
        name = "empty (bench user only)" if point.users == 0 else f"{point.users:,}"
        out.append(
            f"| {name} | {point.generation_s:.1f} s | {point.p50_ms:.2f} ms | "
            f"{point.p99_ms:.2f} ms | {r50} | {r99} | {point.changed_p50_ms:.2f} ms | "
            f"{point.changed_p99_ms:.2f} ms | {c50} | {c99} | {point.requests:,} |"
        )
    return "\n".join(out)
