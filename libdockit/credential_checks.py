"""Whether a stored robot account or personal access token may act now, and for how long.

One set of rules for every login that acts as a stored credential: a login with its secret
(:mod:`libdockit.credential_login`) and a federated login a trust policy maps onto a robot
(:mod:`libdockit.federation.robots`). The rules:

* **Disabled or expired**: refused (:func:`~libdockit.access_credentials.credential_refusal`).
* **A robot's owner** must still be there: a user owner who can no longer log in (deleted,
  disabled, gone from the directory; resolved like a refresh token's user) takes the robot
  with them; a local group owner must exist and be enabled (a deleted group deletes its
  robots in the store anyway); a directory group owner is not checked (a directory cannot
  be asked whether a group exists without a member), so such a robot works until it is
  disabled, revoked or expires.
* **The access token's lifetime** is the credential's own when it has one, but at most
  ``max_token_lifetime`` seconds; None otherwise (the caller's default applies).

Each refusal is a sentence about "the robot account" or "the personal access token", for
the caller to put in its own refusal.
"""

from __future__ import annotations

from datetime import datetime

from .access_credentials import DISABLED, credential_refusal
from .backends.base import UserStore
from .errors import NotFound
from .model import GROUP_PREFIX, LOCAL_SOURCE, USER_PREFIX, AccessCredential
from .refresh import IdentityResolver

#: The longest access token a credential's own lifetime may ask for, by default (seconds).
DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME = 3600

KIND_NAMES = {"robot": "robot account", "pat": "personal access token"}


class CredentialChecks:
    """The rules above. ``users`` says who a user owner is now (see
    :func:`libdockit.refresh.identity_resolver`); ``groups`` whether a local group owner
    exists. ``max_token_lifetime``: the cap on a credential's own access-token lifetime
    (None: no cap)."""

    def __init__(
        self,
        users: IdentityResolver,
        groups: UserStore,
        *,
        max_token_lifetime: int | None = DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME,
    ) -> None:
        if max_token_lifetime is not None and max_token_lifetime < 1:
            raise ValueError("max_token_lifetime must be at least one second (None: no cap)")
        self.users = users
        self._groups = groups
        self._max_lifetime = max_token_lifetime

    @staticmethod
    def state_refusal(record: AccessCredential, now: datetime) -> str | None:
        """Why ``record`` may not log in at ``now`` (disabled, expired), or None."""
        refusal = credential_refusal(record, now)
        if refusal is None:
            return None
        state = "disabled" if refusal == DISABLED else "expired"
        return f"the {KIND_NAMES[record.kind]} is {state}"

    def robot_owner_refusal(self, record: AccessCredential) -> str | None:
        """Why the robot ``record`` may not act for want of its owner, or None.
        BackendUnavailable when a directory cannot tell."""
        if record.owner.startswith(USER_PREFIX):
            name = record.owner.removeprefix(USER_PREFIX)
            owner = self.users.identity_for(name, source=record.owner_source)
            if owner is None or owner.source != record.owner_source:
                return "the robot account's owner is disabled or no longer exists"
        elif record.owner.startswith(GROUP_PREFIX) and record.owner_source == LOCAL_SOURCE:
            try:
                enabled = self._groups.get_group(record.owner.removeprefix(GROUP_PREFIX)).enabled
            except NotFound:
                enabled = False
            if not enabled:
                return "the robot account's owning group is disabled or no longer exists"
        return None

    def robot_refusal(self, record: AccessCredential, now: datetime) -> str | None:
        """Why the robot ``record`` may not act at ``now`` (its state, then its owner), or
        None when it may."""
        return self.state_refusal(record, now) or self.robot_owner_refusal(record)

    def token_lifetime(self, record: AccessCredential) -> int | None:
        """The access-token lifetime ``record`` asks for (seconds), capped; None: none."""
        if record.access_token_lifetime is None:
            return None
        seconds = int(record.access_token_lifetime.total_seconds())
        return seconds if self._max_lifetime is None else min(seconds, self._max_lifetime)
