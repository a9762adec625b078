"""The statements a SQL store sends, as peewee logs them (every statement, hand-written
ones too: the session logs those the same way), and a fixture that collects them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


class StatementLog(logging.Handler):
    """Counts the statements peewee sends (it logs each one at DEBUG on ``peewee``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []
        self.sent: list[tuple[str, tuple[object, ...]]] = []  # with their parameters

    def emit(self, record: logging.LogRecord) -> None:
        if record.name != "peewee":  # not peewee.pool's connection bookkeeping
            return
        sql = record.msg[0] if isinstance(record.msg, tuple) else str(record.msg)
        params = tuple(record.msg[1] or ()) if isinstance(record.msg, tuple) else ()
        self.statements.append(str(sql))
        self.sent.append((str(sql), params))


@pytest.fixture
def statements() -> Iterator[StatementLog]:
    logger = logging.getLogger("peewee")
    handler, level = StatementLog(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
