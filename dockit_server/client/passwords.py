"""Passwords for the admin commands: from a terminal prompt or stdin, never from argv.

A new password is asked twice at a terminal. ``--password-stdin`` reads all of stdin and
drops the line break at its end, like ``docker login --password-stdin``. Without a terminal
and without ``--password-stdin`` the command stops with a usage error instead of waiting.
"""

from __future__ import annotations

import getpass
from typing import TextIO

from libdockit.secret import Secret

from .errors import UsageError

#: Same bound as the server (``libdockit.passwords.MAX_PASSWORD_LENGTH``), plus a line break.
MAX_STDIN_CHARS = 1024 + 2


def from_stdin(stdin: TextIO) -> Secret:
    raw = stdin.read(MAX_STDIN_CHARS + 1)
    if len(raw) > MAX_STDIN_CHARS:
        raise UsageError("the password on stdin is longer than 1024 characters")
    password = raw.rstrip("\r\n")
    if not password:
        raise UsageError("no password on stdin (--password-stdin)")
    return Secret(password)


def _require_terminal(stdin: TextIO, what: str) -> None:
    if not stdin.isatty():
        raise UsageError(f"no terminal to ask for {what}: use --password-stdin")


def ask(stdin: TextIO, prompt: str) -> Secret:
    """One password at the terminal (for logging in)."""
    _require_terminal(stdin, "the password")
    password = getpass.getpass(prompt)
    if not password:
        raise UsageError("empty password")
    return Secret(password)


def ask_new(stdin: TextIO, prompt: str) -> Secret:
    """A new password at the terminal, asked twice."""
    _require_terminal(stdin, "the new password")
    first = getpass.getpass(prompt)
    if not first:
        raise UsageError("empty password")
    second = getpass.getpass("Repeat it: ")
    if Secret(first) != Secret(second):
        raise UsageError("the two passwords differ; nothing was changed")
    return Secret(first)


def new_password(stdin: TextIO, *, use_stdin: bool, prompt: str) -> Secret:
    return from_stdin(stdin) if use_stdin else ask_new(stdin, prompt)


def confirm(stdin: TextIO, stderr: TextIO, question: str) -> bool:
    """Ask yes/no at the terminal; without one, tell the caller to pass --yes."""
    if not stdin.isatty():
        raise UsageError(f"{question.rstrip('?')}: pass --yes to confirm (no terminal to ask)")
    stderr.write(f"{question} [y/N] ")
    stderr.flush()
    return stdin.readline().strip().lower() in ("y", "yes")
