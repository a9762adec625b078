"""Explain what a robot account or a personal access token would be granted, and by which
grants, from the same policy and narrowing the token path uses
(:meth:`~libdockit.service.TokenService.decide_delegated`).

How each acts is the login path's own
(:func:`~libdockit.credential_login.credential_delegation`):
a robot has only the grants to ``robot:NAME`` and ``anonymous`` ones (not the grants of a
user of that name, nor ``authenticated``'s); a personal access token has its owner's
current grants (their own, their groups', ``authenticated``'s and ``anonymous``'), narrowed
to its scopes. An explanation names the credential (``robot:NAME``, ``pat:ID``) beside its
subject.
"""

from __future__ import annotations

from collections.abc import Sequence

from .credential_login import ROBOT_SOURCE, credential_delegation
from .explain import Explanation, explain_decision
from .model import USER_PREFIX, AccessCredential, Identity
from .scope import ResourceScope
from .service import TokenService


def explain_credential(
    tokens: TokenService, credential: AccessCredential, scopes: Sequence[ResourceScope]
) -> Explanation:
    """What a token request with ``credential``'s secret would be granted for ``scopes``,
    and why; like :meth:`TokenService.explain`, it does not check that it could log in."""
    delegation = credential_delegation(credential)
    if credential.kind == "robot":
        identity = Identity(username=credential.name, source=ROBOT_SOURCE)
    else:
        owner = credential.owner.removeprefix(USER_PREFIX)
        # The owner's current groups, as an explanation for the owner sees them.
        groups = tokens.explain(owner, ()).groups
        identity = Identity(username=owner, groups=groups, source=credential.owner_source)
    decision = tokens.decide_delegated(identity, delegation, scopes)
    return explain_decision(identity, decision, credential=delegation.credential)
