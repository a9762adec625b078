"""The admin subcommands of ``dockit``: argparse registration; each sets ``handler``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import grants, groups, users
from .common import common_options, run

if TYPE_CHECKING:
    from .common import Subparsers

__all__ = ["register", "run"]


def register(commands: Subparsers) -> None:
    """Add ``user``, ``group``, ``grant``, ``revoke``, ``grants`` and ``permissions``."""
    common = common_options()
    users.register(commands, common)
    groups.register(commands, common)
    grants.register(commands, common)
