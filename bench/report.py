"""The machine a run was on, and bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from .context import Options
from .results import Report, curve_table, markdown_table


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def wrk_version() -> str:
    try:
        out = subprocess.run(
            ["wrk", "--version"], check=False, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0]


def dockit_revision() -> str:
    """The commit benchmarked, and whether the work tree had changes on top of it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "libdockit", "dockit_server"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    changed = len(dirty.stdout.splitlines())
    suffix = f" + {changed} uncommitted file(s) in libdockit/dockit_server" if changed else ""
    return head.stdout.strip() + suffix


def machine() -> list[tuple[str, str]]:
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("cores (nproc)", str(os.cpu_count())),
        ("CPU", cpu_model()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("load generator", wrk_version()),
        ("load average at the start", load_average()),
        ("Dockit", dockit_revision()),
    ]


def command_line(argv: list[str]) -> str:
    return shlex.join(["python3", "-m", "bench", *argv])


def write(
    path: Path, report: Report, options: Options, argv: list[str], facts: list[tuple[str, str]]
) -> None:
    lines = [
        "# Dockit benchmark results",
        "",
        "Written by `python3 -m bench --write` (see README.md, Benchmarks). Figures are from "
        "one run on a shared machine where other work may have been running: read the "
        "ratios, which compare figures measured in interleaved rounds on the same machine, "
        "rather than the absolute rates.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in facts),
        "",
        "## Command",
        "",
        "```sh",
        command_line(argv),
        "```",
        "",
        f"Each rate: wrk -t{options.threads} -c{options.connections} --latency for "
        f"{options.duration} s after a {options.warmup} s warm-up, on 127.0.0.1, against "
        f"`dockit api-server` with {options.workers} gunicorn workers (Dockit's gevent worker, "
        "the default) over SQLite "
        "(scenario 9: PostgreSQL), default settings otherwise. Server CPU/req is the CPU "
        "time of gunicorn's master and workers during the measured run divided by the "
        "requests answered. Rates are given with a new connection per request (every "
        "request says Connection: close) and with kept-alive connections, each ratio against "
        "/healthz measured the same way.",
        "",
        "## Results",
        "",
        markdown_table(report.rows),
        "",
    ]
    if report.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in report.notes), ""]
    for title, body in report.sections:
        lines += [f"## {title}", "", body, ""]
    if report.curve:
        lines += [
            "## Scale: token latency by store size",
            "",
            "The `bench` user (10 groups) asks for a token, one request at a time, "
            "round-robin over servers on stores made by `python3 -m bench.generate_store` "
            "(N users, N/10 groups, 10N memberships, 2N grants); latency as the Python "
            "client sees it.",
            "",
            curve_table(report.curve),
            "",
        ]
    path.write_text("\n".join(lines))
    print(f"wrote {path}", file=sys.stderr)
