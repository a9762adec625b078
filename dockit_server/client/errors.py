"""Exit codes of the admin commands and the errors that carry them.

Every failure of an admin command is a :class:`CliError` whose ``exit_code`` is one of the
named constants below, so a script can tell apart what went wrong without reading messages:

====  =====================  ===========================================================
code  name                   meaning
====  =====================  ===========================================================
0     EXIT_OK                done
1     EXIT_FAILURE           anything else: an answer that is not Dockit's, a redirect,
                             a deletion cancelled at the prompt
2     EXIT_USAGE             bad input: usage, a bad name, scope, subject or password,
                             an unreadable docker config (HTTP 400, 413, 415);
                             keys rotate without --activate-after or --no-wait
3     EXIT_NOT_FOUND         the user, group, member, grant, key or refresh token does not
                             exist, or the server is older than the command (HTTP 404)
4     EXIT_CONFLICT          it exists already, or the change is refused as unsafe
                             (HTTP 409; revoke with other actions; bootstrap-admin
                             on a non-admin without --promote; a key retired while
                             keys rotate waited to activate it)
5     EXIT_DENIED            no credentials found, credentials refused (HTTP 401), or the
                             user is not an admin (HTTP 403)
6     EXIT_UNREACHABLE       Dockit (or its database) cannot answer: connection refused,
                             timeout, HTTP 5xx
====  =====================  ===========================================================

Messages never contain a password, a token or an ``Authorization`` header.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_DENIED = 5
EXIT_UNREACHABLE = 6

#: For ``dockit --help``: where the admin commands connect and who they are.
ADMIN_HELP = """\
The admin commands (user, group, grant, revoke, grants, permissions, explain, keys, audit,
tokens) call the Admin API at
--url ($DOCKIT_URL, default http://127.0.0.1:4315) as --username ($DOCKIT_USERNAME with
$DOCKIT_PASSWORD, else a prompt) or with what `docker login HOST` stored for
--registry HOST ($DOCKIT_REGISTRY) in $DOCKER_CONFIG/config.json or ~/.docker/config.json.
Run `dockit COMMAND --help` (or `dockit user --help`) for a command's options."""

#: For ``dockit --help`` and the README: one line per exit code.
EXIT_CODES_HELP = """\
exit codes of the admin commands and bootstrap-admin:
  0  done
  1  unexpected answer (not Dockit's, or a redirect), or cancelled at a prompt
  2  bad input or usage (HTTP 400)
  3  not found (HTTP 404)
  4  conflict: exists already, or refused as unsafe (HTTP 409)
  5  denied: no credentials found, credentials refused (401), not an admin (403)
  6  unreachable: connection refused, timeout, Dockit or its database down (5xx)"""


class CliError(Exception):
    """A failure to report on stderr; ``exit_code`` is what the command exits with."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CliError):
    exit_code = EXIT_USAGE


class NotFoundError(CliError):
    exit_code = EXIT_NOT_FOUND


class ConflictError(CliError):
    exit_code = EXIT_CONFLICT


class DeniedError(CliError):
    exit_code = EXIT_DENIED


class CredentialsNotFound(DeniedError):
    """No credentials anywhere the CLI looked; the message says where that was."""


class UnreachableError(CliError):
    exit_code = EXIT_UNREACHABLE


class ApiError(CliError):
    """An error answer of the Admin API: its HTTP status and stable ``code``."""

    def __init__(self, message: str, *, status: int, code: str, detail: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.detail = detail
        self.exit_code = exit_code_for_status(status)
        #: A 404 for a path the server has no route for (not a missing user or group).
        self.no_route = False


def exit_code_for_status(status: int) -> int:
    """The exit code an HTTP error status maps to (see the module docstring)."""
    if status in (400, 413, 415, 422):
        return EXIT_USAGE
    if status == 404:
        return EXIT_NOT_FOUND
    if status == 409:
        return EXIT_CONFLICT
    if status in (401, 403):
        return EXIT_DENIED
    if status >= 500:
        return EXIT_UNREACHABLE
    return EXIT_FAILURE
