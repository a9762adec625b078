"""The admin subcommands of ``dockit``: argparse registration; each sets ``handler``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import (
    audit,
    explain,
    grants,
    groups,
    keys,
    personal_tokens,
    robots,
    tokens,
    trust_policies,
    users,
)
from .common import common_options, run

if TYPE_CHECKING:
    from .common import Subparsers

__all__ = ["register", "run"]


def register(commands: Subparsers) -> None:
    """Add ``user``, ``group``, ``grant``, ``revoke``, ``grants``, ``permissions``,
    ``explain``, ``keys``, ``audit``, ``tokens``, ``trust-policy``, ``robot`` and ``token``."""
    common = common_options()
    users.register(commands, common)
    groups.register(commands, common)
    grants.register(commands, common)
    explain.register(commands, common)
    keys.register(commands, common)
    audit.register(commands, common)
    tokens.register(commands, common)
    trust_policies.register(commands, common)
    robots.register(commands, common)
    personal_tokens.register(commands, common)
