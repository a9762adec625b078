"""The ``dockit`` console script.

Every command is registered the same way (:func:`~.client.commands.common.add_command`: a
parser whose ``handler`` takes the run's context) and run by one function
(:func:`~.client.commands.common.run`), which turns errors into a message and an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .cli_globals import add_global_options, apply_global_options, positive_seconds
from .config import Settings
from .init_container import Backoff, InitContainerError, InitContainerUsageError
from .multiproc import remove_metrics_dir, use_fresh_metrics_dir

if TYPE_CHECKING:
    from .client.commands.common import Context

DEFAULT_URL = "http://127.0.0.1:4315"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dockit")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _settings_help() -> str:
    """Every setting, from the code that reads them (so the list cannot go stale)."""
    from .config_fields import setting_names

    names = setting_names()
    width = max(len(name.key) for name in names)
    lines = [
        "every setting: TOML key (in the file DOCKIT_CONFIG names) and environment variable;",
        "* marks a secret, also read from a file: VARIABLE_FILE, or KEY_file in TOML.",
        "The README's Configuration section says what each one means.",
        "",
    ]
    lines += [f"  {name.key:<{width}}  {name.env}{' *' if name.secret else ''}" for name in names]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    from .bootstrap_admin import register as register_bootstrap_admin
    from .client.commands import register as register_admin_commands
    from .client.commands.common import add_command
    from .client.errors import ADMIN_HELP, EXIT_CODES_HELP

    parser = argparse.ArgumentParser(
        prog="dockit",
        description="Authentication for OCI registries.",
        epilog=ADMIN_HELP + "\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dockit {_version()}")
    add_global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    server = add_command(
        commands,
        "api-server",
        _api_server,
        "serve /v2/token, the bundle and the Admin API",
        description="Serve Dockit under gunicorn. Settings come from DOCKIT_CONFIG (TOML) "
        "and DOCKIT_* environment variables; these flags override them.",
        epilog=_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    server.add_argument("--bind", help="HOST:PORT to listen on (default 127.0.0.1:4315)")
    server.add_argument("--workers", type=int, help="gunicorn worker processes (default 2)")
    server.add_argument("--database-url", help="sqlite:///PATH or postgresql://... URL")

    init = add_command(
        commands,
        "init-container",
        _init_container,
        "write the signing-certificate bundle for the registry",
        description="Fetch every published signing certificate from a running Dockit and "
        "write them to PATH atomically, for REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE (with --jwks: "
        "every published key as a JWK Set, for registry 3.x's auth.token.jwks).",
    )
    init.add_argument("path", type=Path, help="where to write the PEM bundle (or JWK Set)")
    init.add_argument(
        "--jwks",
        action="store_true",
        help="write the JWK Set of /v2/certs/jwks instead of the PEM bundle",
    )
    init.add_argument("--url", help=f"Dockit's base URL (default $DOCKIT_URL or {DEFAULT_URL})")
    init.add_argument(
        "--timeout", type=positive_seconds, help="seconds to wait for Dockit (default 60)"
    )
    init.set_defaults(option_defaults={"timeout": 60.0})
    init.add_argument(
        "--ca-file",
        type=Path,
        help="PEM CA certificate(s) to trust for an https --url (default: the system's)",
    )
    health = add_command(
        commands,
        "healthcheck",
        _healthcheck,
        "exit 0 if the api-server configured here is ready (for a container HEALTHCHECK)",
        description="Read the same settings as api-server (DOCKIT_CONFIG, DOCKIT_* variables) "
        "and ask /readyz where it listens (server.bind; a wildcard address on loopback), over "
        "HTTPS when server.tls_cert_file is set, without verifying the certificate. Exit 0 "
        "when it answers 200, else 1.",
    )
    health.add_argument(
        "--timeout", type=float, default=3.0, help="seconds to wait for the answer (default 3)"
    )
    register_bootstrap_admin(commands)
    register_admin_commands(commands)
    return parser


def _api_server(ctx: Context) -> int:
    # First, before anything imports prometheus_client (see dockit_server.multiproc).
    metrics_dir = use_fresh_metrics_dir()
    try:
        return _run_api_server(ctx.args)
    finally:
        remove_metrics_dir(metrics_dir)


def _run_api_server(args: argparse.Namespace) -> int:
    from .bootstrap import prepare
    from .serve import serve
    from .startup import announcer, check_bind

    settings = Settings.load(
        overrides={
            "server.bind": args.bind,
            "server.workers": args.workers,
            "database.url": args.database_url,
        }
    )
    check_bind(settings)  # before the database is touched: a busy port changes nothing
    first_admin = prepare(settings)
    serve(settings, when_ready=announcer(settings, first_admin, _version()))
    return EXIT_OK


def _init_container(ctx: Context) -> int:
    from .init_container import (
        BUNDLE_PATH,
        JWKS_PATH,
        RetryReport,
        bundle_url,
        check_base_url,
        run,
    )

    def say(line: str) -> None:
        print(f"dockit init-container: {line}", file=sys.stderr, flush=True)

    args = ctx.args
    url = args.url or ctx.environ.get("DOCKIT_URL") or DEFAULT_URL
    try:
        path = JWKS_PATH if args.jwks else BUNDLE_PATH
        report = RetryReport(bundle_url(check_base_url(url), path), say)
        count = run(
            args.path,
            url,
            Backoff(timeout=args.timeout),
            ca_file=args.ca_file,
            on_retry=report,
            warn=say,
            jwks=args.jwks,
        )
    except InitContainerUsageError as exc:
        say(str(exc))
        return EXIT_USAGE
    except InitContainerError as exc:
        say(str(exc))
        return EXIT_FAILURE
    print(f"wrote {count} {'key' if args.jwks else 'certificate'}(s) to {args.path}")
    return EXIT_OK


def _healthcheck(ctx: Context) -> int:
    from .healthcheck import check

    ready, what = check(Settings.load(), timeout=ctx.args.timeout)
    if not ready:
        print(f"dockit healthcheck: {what}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # `dockit` alone: what there is to run, and a usage exit for scripts.
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    apply_global_options(parser, args)
    from .client.commands import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
