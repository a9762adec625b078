"""Passwords for the admin commands: from a terminal prompt or stdin, never from argv.

A new password is asked twice at a terminal. ``--password-stdin`` reads all of stdin and
drops the line break at its end, like ``docker login --password-stdin``. Without a terminal
the command stops with a usage error instead of waiting, saying where the password can come
from instead (``DOCKIT_PASSWORD`` to log in, ``--password-stdin`` for a new one); Ctrl-D at a
prompt cancels (exit 1).
"""

from __future__ import annotations

import getpass
from typing import TextIO

from libdockit.secret import Secret

from .errors import CliError, UsageError

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


#: Where a login password comes from when there is no terminal to ask.
LOGIN_WITHOUT_TERMINAL = (
    "set DOCKIT_PASSWORD (with DOCKIT_USERNAME or --username), or use --registry HOST "
    "for what `docker login HOST` stored"
)


def _require_terminal(stdin: TextIO, what: str, advice: str) -> None:
    if not stdin.isatty():
        raise UsageError(f"no terminal to ask for {what}: {advice}")


def _prompt(prompt: str) -> str:
    """getpass, with Ctrl-D (end of input) a cancellation rather than a traceback."""
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise CliError("cancelled at the password prompt (end of input); nothing changed") from None


def ask(stdin: TextIO, prompt: str) -> Secret:
    """One password at the terminal (for logging in)."""
    _require_terminal(stdin, "the password", LOGIN_WITHOUT_TERMINAL)
    password = _prompt(prompt)
    if not password:
        raise UsageError("empty password")
    return Secret(password)


def ask_new(stdin: TextIO, prompt: str) -> Secret:
    """A new password at the terminal, asked twice."""
    _require_terminal(stdin, "the new password", "use --password-stdin")
    first = _prompt(prompt)
    if not first:
        raise UsageError("empty password")
    second = _prompt("Repeat it: ")
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
