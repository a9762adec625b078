"""Options the client commands share, accepted before the command name too.

docker and kubectl users write ``dockit --url URL user list``; others write
``dockit user list --url URL``. Both work: the top-level parser takes ``--url``,
``--registry``, ``--username``, ``--timeout`` and ``-o`` into ``global_*`` names, and
:func:`apply_global_options` hands each to the command when the command did not get the
same option after its name (after wins). A command that has no such option (``api-server``
and ``--url``) is a usage error rather than an option silently ignored.

Commands declare their options with a default of None and list the real defaults in
``option_defaults`` (``parser.set_defaults(option_defaults={...})``), so "not given" can be
told from "given the default value".
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from .client.output import FORMATS

GLOBAL_PREFIX = "global_"


@dataclass(frozen=True, slots=True)
class GlobalOption:
    dest: str
    flags: tuple[str, ...]


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption("url", ("--url",)),
    GlobalOption("registry", ("--registry",)),
    GlobalOption("username", ("--username",)),
    GlobalOption("timeout", ("--timeout",)),
    GlobalOption("output", ("-o", "--output")),
)


def positive_seconds(raw: str) -> float:
    """More than 0 and at most an hour."""
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600")
    return value


def add_global_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "options of the client commands, also accepted here, before the command name"
    )
    group.add_argument(
        "--url", dest="global_url", metavar="URL", help="Dockit's base URL ($DOCKIT_URL)"
    )
    group.add_argument(
        "--registry", dest="global_registry", metavar="HOST", help="use `docker login HOST`"
    )
    group.add_argument("--username", dest="global_username", metavar="NAME", help="log in as NAME")
    group.add_argument(
        "--timeout",
        dest="global_timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="for each request (default 30; init-container: how long to wait, 60)",
    )
    group.add_argument(
        "-o", "--output", dest="global_output", choices=FORMATS, help="table (default) or json"
    )


def apply_global_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Give the command the options written before its name, then its own defaults."""
    for option in GLOBAL_OPTIONS:
        value = getattr(args, GLOBAL_PREFIX + option.dest, None)
        if hasattr(args, GLOBAL_PREFIX + option.dest):
            delattr(args, GLOBAL_PREFIX + option.dest)
        if value is None:
            continue
        if not hasattr(args, option.dest):
            flags = "/".join(option.flags)
            parser.error(
                f"`dockit {args.command}` has no {flags} option "
                f"(see `dockit {args.command} --help`)"
            )
        if getattr(args, option.dest) is None:
            setattr(args, option.dest, value)
    for dest, default in getattr(args, "option_defaults", {}).items():
        if getattr(args, dest, None) is None:
            setattr(args, dest, default)
