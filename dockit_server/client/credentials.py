"""Who the admin commands act as: flags and environment first, then the docker config.

Order (the first that applies wins):

1. ``--username NAME`` or ``DOCKIT_USERNAME``: the password is ``DOCKIT_PASSWORD`` when set,
   else asked at a terminal (never taken from argv).
2. ``--registry HOST`` or ``DOCKIT_REGISTRY``: what ``docker login HOST`` stored in the docker
   config, found by :func:`.docker_config.find_credentials` (``credHelpers``, ``credsStore``,
   then ``auths`` with ``auth``, ``username``/``password`` or ``identitytoken``).

When neither applies, or the docker config has nothing for the registry, the error says
where the CLI looked and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from libdockit.secret import Secret

from .credential_record import Credentials
from .docker_config import find_credentials
from .errors import CredentialsNotFound, UsageError

AskPassword = Callable[[str], Secret]


def resolve(
    *,
    username: str | None,
    registry: str | None,
    environ: Mapping[str, str],
    ask: AskPassword,
    helper_timeout: float,
) -> Credentials:
    """The credentials to call the Admin API with; raises when there are none."""
    flag_user = username
    env_user = environ.get("DOCKIT_USERNAME") or None
    env_password = environ.get("DOCKIT_PASSWORD") or None
    name = flag_user or env_user
    if name:
        origin = "--username" if flag_user else "DOCKIT_USERNAME"
        if env_password is not None:
            return Credentials(name, Secret(env_password), f"{origin} and DOCKIT_PASSWORD")
        return Credentials(name, ask(f"Password for {name}: "), f"{origin} and a password prompt")
    if env_password is not None:
        raise UsageError("DOCKIT_PASSWORD is set but not DOCKIT_USERNAME (or --username)")
    host = registry or environ.get("DOCKIT_REGISTRY") or None
    if host:
        return find_credentials(host, environ, timeout=helper_timeout)
    raise CredentialsNotFound(
        "no credentials: pass --registry HOST (or set DOCKIT_REGISTRY) to use what "
        "`docker login HOST` stored in the docker config, or --username NAME (or "
        "DOCKIT_USERNAME and DOCKIT_PASSWORD)"
    )
