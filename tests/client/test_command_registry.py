"""Every ``dockit`` command is registered one way: a parser with a ``handler`` that one
function runs (``client.commands.common.run``), and a ``command_name`` for its messages."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from dockit_server import cli


def commands(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, object]]:
    """(``dockit`` command line, its parser's defaults) for every command that runs."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}".strip())
            return
    yield path, {name: parser.get_default(name) for name in ("handler", "command_name")}


def test_every_command_has_a_handler_and_its_name() -> None:
    found = dict(commands(cli._parser()))
    assert {"api-server", "init-container", "healthcheck", "bootstrap-admin", "user add"} <= set(
        found
    )
    for line, defaults in found.items():
        assert isinstance(defaults, dict)
        assert callable(defaults["handler"]), line
        assert defaults["command_name"] == line, line


def test_a_server_command_reports_through_the_same_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKIT_TOKEN_LIFETIME", "not-a-number")
    assert cli.main(["healthcheck"]) == 2  # a ConfigError: usage, as for every command
    assert capsys.readouterr().err.startswith("dockit healthcheck: token.lifetime")
