"""What the admin commands print: aligned tables for people, ``--output json`` for scripts.

JSON output is the Admin API's own objects (a user, a group, a grant, or a list of them),
pretty-printed, one document per command on stdout, exactly as the API sent them. Deletions
print the object as it was just before. Messages for people, warnings and errors go to
stderr or are kept out of the JSON document, so ``dockit ... -o json | jq`` always reads one
JSON value.

Text for people never carries a control character as it is: the audit log holds what
anonymous clients sent (a refused request's service and scopes), and an escape sequence
printed raw would clear the screen or forge lines. :func:`visible` writes every character
that is not printable (C0 and C1 controls, DEL, format characters such as bidi overrides,
line separators) as a Python-style escape (``\x1b``, ``\n``, ``\u202e``); tables and
``key: value`` lines escape each cell, so a cell cannot break its line either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(value: str, *, keep_newlines: bool = False) -> str:
    """``value`` with every non-printable character escaped (see the module docs);
    ``keep_newlines`` leaves line breaks of text that is made of lines itself."""
    if value.isprintable():
        return value
    out = []
    for char in value:
        if char.isprintable() or char == " " or (keep_newlines and char == "\n"):
            out.append(char)
        elif char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        else:
            code = ord(char)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
    return "".join(out)


TABLE = "table"
JSON = "json"
FORMATS = (TABLE, JSON)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; no trailing spaces. Cells are
    made :func:`visible`."""
    headers = [visible(header) for header in headers]
    rows = [[visible(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """``key: value`` lines with the values aligned (and made :func:`visible`)."""
    width = max(len(key) for key, _ in pairs) + 1
    return "\n".join(
        f"{visible(key) + ':':<{width}} {visible(value)}".rstrip() for key, value in pairs
    )


def yes_no(value: object) -> str:
    return "yes" if value is True else "no"


def names(values: object) -> str:
    if isinstance(values, list) and values:
        return ", ".join(str(value) for value in values)
    return "-"


def text(value: object) -> str:
    return "-" if value is None else str(value)


def user_rows(users: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["USERNAME", "ENABLED", "ADMIN", "GROUPS", "CREATED"]
    rows = [
        [
            str(u.get("username")),
            yes_no(u.get("enabled")),
            yes_no(u.get("admin")),
            names(u.get("groups")),
            text(u.get("created_at")),
        ]
        for u in users
    ]
    return headers, rows


def group_rows(groups: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["NAME", "ENABLED", "MEMBERS", "CREATED"]
    rows = [
        [
            str(g.get("name")),
            yes_no(g.get("enabled")),
            names(g.get("members")),
            text(g.get("created_at")),
        ]
        for g in groups
    ]
    return headers, rows


def grant_rows(grants: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["ID", "SUBJECT", "SCOPE", "CREATED"]
    rows = [
        [text(g.get("id")), str(g.get("subject")), str(g.get("scope")), text(g.get("created_at"))]
        for g in grants
    ]
    return headers, rows


class Output:
    """Prints one command's result in the chosen format."""

    def __init__(self, fmt: str, stdout: TextIO) -> None:
        self.format = fmt
        self._stdout = stdout

    @property
    def json(self) -> bool:
        return self.format == JSON

    def emit(self, document: object, human: Callable[[], str]) -> None:
        """``document`` as JSON, or the text ``human()`` builds."""
        if self.json:
            self._stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        else:
            self._stdout.write(visible(human(), keep_newlines=True) + "\n")
        self._stdout.flush()

    def listing(
        self,
        items: Sequence[dict[str, Any]],
        rows: Callable[[Sequence[dict[str, Any]]], tuple[list[str], list[list[str]]]],
        empty: str,
    ) -> None:
        def human() -> str:
            if not items:
                return empty
            return table(*rows(items))

        self.emit(list(items), human)
