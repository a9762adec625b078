"""The credentials an admin command acts with: what :mod:`.credentials` and
:mod:`.docker_config` find, and :mod:`.http` sends."""

from __future__ import annotations

from dataclasses import dataclass

from libdockit.secret import Secret

#: The user name docker's credential helpers report for an identity (refresh) token.
TOKEN_USERNAME = "<token>"  # noqa: S105 - a marker name, not a password


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and its password (or identity token); ``source`` says where they came from
    (for messages; it never contains the secret)."""

    username: str
    password: Secret
    source: str
    identity_token: bool = False
