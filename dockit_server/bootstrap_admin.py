"""``dockit bootstrap-admin NAME``: make sure NAME is an admin who can log in.

The one command that works on the database directly, for when no admin can log in yet (a
fresh deployment whose first admin came from elsewhere, or a lost password). It reads the
server's settings (``DOCKIT_CONFIG``, ``DOCKIT_*``; ``--database-url`` wins), migrates the
schema, then:

* NAME missing: create it with the admin flag and the password (from stdin, or asked twice
  at a terminal);
* NAME an enabled admin: change nothing (exit 0), unless ``--reset-password``;
* NAME not an admin: refuse (exit 4) unless ``--promote``; NAME disabled: refuse (exit 4)
  unless ``--enable``.

Every refusal is checked before anything is written, and a bad password is refused before
any change, so a run either does all it reports or nothing. It never demotes anyone, never
disables anyone and never changes a password it was not asked to. Re-running it is safe.

Each change is recorded in the audit log (when ``audit.enabled``), by ``system:bootstrap-admin``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from libdockit.admin import AdminService
from libdockit.audit import Actor
from libdockit.errors import Conflict, NotFound
from libdockit.model import User, validate_name
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.views import user_view

from .client.commands.common import add_command

if TYPE_CHECKING:
    from .client.commands.common import Context, Subparsers

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
#: Who makes the changes, in the audit log.
BOOTSTRAP_ACTOR = Actor.system("bootstrap-admin")


@dataclass(frozen=True, slots=True)
class Outcome:
    user: User
    #: :data:`CREATED`, :data:`UPDATED` or :data:`UNCHANGED`.
    result: str
    changes: tuple[str, ...] = ()


def ensure_admin(
    admin: AdminService,
    username: str,
    password: Callable[[], Secret],
    *,
    promote: bool = False,
    reset_password: bool = False,
    enable: bool = False,
    actor: Actor = BOOTSTRAP_ACTOR,
) -> Outcome:
    """Make ``username`` an enabled admin as described in the module docstring.

    ``password`` is called only when a password is needed (a new user, or a reset).
    """
    name = validate_name(username, field_name="username")
    try:
        user = admin.get_user(name)
    except NotFound:
        created = admin.create_user(name, password(), is_admin=True, actor=actor)
        return Outcome(created, CREATED, ("created with the admin flag",))
    if not user.is_admin and not promote:
        raise Conflict(
            f"user {name} exists and is not an admin; nothing changed. Rerun with --promote "
            "to give them the admin flag (their password stays unless --reset-password)"
        )
    if not user.enabled and not enable:
        raise Conflict(
            f"user {name} exists but is disabled; nothing changed. Rerun with --enable to let "
            "them log in again"
        )
    changes: list[str] = []
    if reset_password:
        # A bad password fails here, before any change.
        admin.set_password(name, password(), actor=actor)
        changes.append("password reset")
    if not user.is_admin:
        user = admin.update_user(name, is_admin=True, actor=actor)
        changes.append("promoted to admin")
    if not user.enabled:
        user = admin.update_user(name, enabled=True, actor=actor)
        changes.append("enabled")
    if not changes:
        return Outcome(admin.get_user(name), UNCHANGED)
    return Outcome(admin.get_user(name), UPDATED, tuple(changes))


def register(commands: Subparsers) -> None:
    parser = add_command(
        commands,
        "bootstrap-admin",
        run_bootstrap_admin,
        "create or repair an admin directly in the database",
        description="Make sure NAME is an enabled admin, working directly on the configured "
        "database (DOCKIT_CONFIG, DOCKIT_* settings). Creates NAME if missing, with the "
        "password read from stdin (or asked twice at a terminal). An existing admin is left "
        "as it is unless --reset-password; a non-admin is refused unless --promote; a "
        "disabled user is refused unless --enable. Never demotes, never overwrites silently.",
    )
    parser.add_argument("name", help="the admin's user name")
    parser.add_argument(
        "--promote", action="store_true", help="give an existing non-admin the admin flag"
    )
    parser.add_argument(
        "--reset-password", action="store_true", help="set the password of an existing user"
    )
    parser.add_argument("--enable", action="store_true", help="enable an existing disabled user")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin even at a terminal (the default without one)",
    )
    parser.add_argument("--database-url", help="sqlite:///PATH or postgresql://... URL")
    parser.add_argument("-o", "--output", choices=("table", "json"), help="text (default) or json")
    parser.set_defaults(option_defaults={"output": "table"})


def _password_source(args: argparse.Namespace, stdin: TextIO) -> Callable[[], Secret]:
    from .client import passwords

    def read() -> Secret:
        if args.password_stdin or not stdin.isatty():
            return passwords.from_stdin(stdin)
        return passwords.ask_new(stdin, f"Password for {args.name}: ")

    return read


def run_bootstrap_admin(ctx: Context) -> int:
    """The handler, run by :func:`dockit_server.client.commands.run`."""
    from .bootstrap import one_off_auditor, open_store
    from .config import Settings
    from .keysetup import secure_database_file

    args = ctx.args
    settings = Settings.load(overrides={"database.url": args.database_url})
    secure_database_file(settings)
    store = open_store(settings)
    try:
        store.migrate()
        outcome = ensure_admin(
            AdminService(
                store,
                store,
                PasswordHasher(),
                password_policy=settings.password_policy,
                audit=one_off_auditor(store, settings),
            ),
            args.name,
            _password_source(args, ctx.stdin),
            promote=args.promote,
            reset_password=args.reset_password,
            enable=args.enable,
        )
    finally:
        store.close()
    _report(outcome, args.output == "json", ctx.stdout)
    return 0


def _report(outcome: Outcome, as_json: bool, stdout: TextIO) -> None:
    name = outcome.user.username
    if as_json:
        document = {
            "result": outcome.result,
            "changes": list(outcome.changes),
            "user": user_view(outcome.user),
        }
        stdout.write(json.dumps(document, indent=2) + "\n")
    elif outcome.result == UNCHANGED:
        stdout.write(
            f"{name} is an enabled admin already; nothing changed "
            "(--reset-password sets a new password)\n"
        )
    else:
        stdout.write(f"{name}: {', '.join(outcome.changes)}\n")
    stdout.flush()
