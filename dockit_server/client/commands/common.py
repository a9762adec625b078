"""What every ``dockit`` command shares: how it is registered (:func:`add_command`), the
common options of the admin commands, the run context and error reporting (:func:`run`)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

from libdockit.errors import (
    AuthenticationFailed,
    BackendUnavailable,
    ConfigError,
    Conflict,
    DockitError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from libdockit.secret import Secret

from ...cli_globals import positive_seconds
from .. import passwords
from ..credential_record import Credentials
from ..credentials import resolve
from ..errors import (
    EXIT_CONFLICT,
    EXIT_DENIED,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
)
from ..http import DEFAULT_TIMEOUT, DEFAULT_URL, AdminClient, check_url
from ..output import FORMATS, TABLE, Output, visible

Handler = Callable[["Context"], int]
if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_command(
    commands: Subparsers,
    name: str,
    handler: Handler,
    help_text: str,
    *,
    group: str | None = None,
    parents: Sequence[argparse.ArgumentParser] = (),
    **options: Any,
) -> argparse.ArgumentParser:
    """Add the command ``name`` (under ``group``, e.g. ``user``): :func:`run` calls
    ``handler`` for it, and its messages start ``dockit GROUP NAME:``. ``options`` go to
    ``add_parser`` (``description`` defaults to ``help_text``)."""
    options.setdefault("description", help_text)
    parser = commands.add_parser(name, help=help_text, parents=list(parents), **options)
    parser.set_defaults(handler=handler, command_name=f"{group} {name}" if group else name)
    return parser


def common_options() -> argparse.ArgumentParser:
    """The options every Admin API command takes (a parent parser; put them after the command)."""
    parent = argparse.ArgumentParser(add_help=False)
    # None: not given after the command; see dockit_server.cli_globals.
    parent.set_defaults(option_defaults={"output": TABLE, "timeout": DEFAULT_TIMEOUT})
    group = parent.add_argument_group("connection and output (also accepted before the command)")
    group.add_argument("--url", help=f"Dockit's base URL (default $DOCKIT_URL, else {DEFAULT_URL})")
    group.add_argument(
        "--registry",
        metavar="HOST",
        help="use the credentials `docker login HOST` stored (default $DOCKIT_REGISTRY)",
    )
    group.add_argument(
        "--username",
        metavar="NAME",
        help="log in as NAME; the password is $DOCKIT_PASSWORD or asked (default $DOCKIT_USERNAME)",
    )
    group.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        help="table (default) or json: the Admin API's objects, for scripts",
    )
    group.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help=f"for each request and credential helper (default {DEFAULT_TIMEOUT:g})",
    )
    return parent


@dataclass
class Context:
    """One run of an admin command: its arguments, streams, environment and output."""

    args: argparse.Namespace
    environ: Mapping[str, str]
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    output: Output = field(init=False)
    _client: AdminClient | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.output = Output(getattr(self.args, "output", TABLE), self.stdout)

    def client(self) -> AdminClient:
        """The Admin API client, resolving the URL and credentials on first use."""
        if self._client is None:
            url = check_url(self.args.url or self.environ.get("DOCKIT_URL") or DEFAULT_URL)
            credentials = resolve(
                username=self.args.username,
                registry=self.args.registry,
                environ=self.environ,
                ask=lambda prompt: passwords.ask(self.stdin, prompt),
                helper_timeout=self.args.timeout,
            )
            self._warn_plain_http(url, credentials)
            self._client = AdminClient(url, credentials, timeout=self.args.timeout)
        return self._client

    def new_password(self, what: str) -> Secret:
        return passwords.new_password(
            self.stdin, use_stdin=self.args.password_stdin, prompt=f"New password for {what}: "
        )

    def confirm(self, question: str) -> bool:
        if getattr(self.args, "yes", False):
            return True
        return passwords.confirm(self.stdin, self.stderr, question)

    def note(self, message: str) -> None:
        """A message for people on stderr (kept out of stdout's JSON), made visible."""
        self.stderr.write(visible(message, keep_newlines=True) + "\n")
        self.stderr.flush()

    def _warn_plain_http(self, url: str, credentials: Credentials) -> None:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme != "http" or host == "localhost":
            return
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
        self.note(
            f"warning: sending the credentials of {credentials.username} over plain http to "
            f"{host}; use https:// outside this machine"
        )


def run(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    """Run the command's ``args.handler``; errors become a message and an exit code."""
    ctx = Context(
        args, os.environ if environ is None else environ, sys.stdin, sys.stdout, sys.stderr
    )
    handler: Handler = args.handler
    name = f"dockit {args.command_name}"
    try:
        return handler(ctx)
    except CliError as exc:
        ctx.note(f"{name}: {exc.message}")
        return exc.exit_code
    except DockitError as exc:
        ctx.note(f"{name}: {exc.message}")
        return exit_code_for_error(exc)
    except KeyboardInterrupt:
        ctx.note(f"{name}: interrupted")
        return 130


def exit_code_for_error(error: DockitError) -> int:
    """The exit code for a library error raised in this process (e.g. a bad subject)."""
    codes: tuple[tuple[type[DockitError], int], ...] = (
        (InvalidRequest, EXIT_USAGE),
        (ConfigError, EXIT_USAGE),
        (NotFound, EXIT_NOT_FOUND),
        (Conflict, EXIT_CONFLICT),
        (AuthenticationFailed, EXIT_DENIED),
        (PermissionDenied, EXIT_DENIED),
        (BackendUnavailable, EXIT_UNREACHABLE),
    )
    for kind, code in codes:
        if isinstance(error, kind):
            return code
    return EXIT_FAILURE
