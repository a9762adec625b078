"""What container engines leave on the host outside the roots they are given, and its cleanup.

Each engine in the tests runs with its own temporary root and socket, but a few paths are
fixed in the engines themselves: dockerd makes ``/run/docker/plugins`` and may leave the
``netns/default`` nsfs mount under its exec root; podman makes ``/run/containers/networks``.
:class:`HostLeftovers` notes which of such paths already existed before an engine started
and, once it stopped, removes the empty directories that it created (never a directory that
was there before, and never one that holds anything). :func:`unmount_under` detaches every
mount below a root, deepest first, so the root can be deleted.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path


def _mount_points() -> list[Path]:
    """Every mount point, from /proc/self/mountinfo (octal escapes such as ``\\040`` decoded)."""
    points: list[Path] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            if len(fields) > 4:
                raw = fields[4]
                decoded = bytes(raw, "utf-8").decode("unicode_escape")
                points.append(Path(decoded))
    return points


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest first."""
    resolved = root.resolve()
    found = [p for p in _mount_points() if p == resolved or resolved in p.parents]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_under(*roots: Path) -> list[Path]:
    """Lazily unmount everything mounted at or below ``roots``; returns what was unmounted."""
    done: list[Path] = []
    for root in roots:
        if not root.exists():
            continue
        for point in mounts_under(root):
            result = subprocess.run(
                ["umount", "-l", str(point)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if result.returncode == 0:
                done.append(point)
    return done


class HostLeftovers:
    """Remove, after an engine stopped, the empty directories among ``paths`` it created."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self._paths = sorted(set(paths), key=lambda p: len(p.parts), reverse=True)
        self._existed = {path for path in self._paths if os.path.lexists(path)}

    def clean(self) -> list[Path]:
        removed: list[Path] = []
        for path in self._paths:  # deepest first, so a parent can go after its child
            if path in self._existed or not path.is_dir() or path.is_symlink():
                continue
            with contextlib.suppress(OSError):  # not empty, or gone: leave it
                path.rmdir()
                removed.append(path)
        return removed
