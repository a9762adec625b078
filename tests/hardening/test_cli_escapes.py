"""The ``dockit`` CLI never prints attacker-chosen text raw: the service and scopes of a
refused anonymous request reach the audit log as sent, and ``dockit audit`` (a real CLI
against a real ``dockit api-server``) shows them with every control character escaped,
one event per line; ``-o json`` stays exact."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from tests.client.helpers import run_cli
from tests.support.dockit import DockitServer, base_env

CLEAR_SCREEN = "\x1b[2J\x1b[H"
FORGED_LINE = "\n2030-01-01T00:00:00Z  user:admin  user.delete  user:alice  was admin=true"
SERVICE = f"evil{CLEAR_SCREEN}{FORGED_LINE}"
SCOPE = "repository:x\u202egnp.exe:pull\r\x07"


def test_dockit_audit_escapes_what_clients_sent(server: DockitServer, tmp_path: Path) -> None:
    query = urllib.parse.urlencode({"service": SERVICE, "scope": SCOPE})
    assert server.get(f"/v2/token?{query}").status == 400
    server.audit_events("action=token.refuse", at_least=1)
    env = {
        **base_env(tmp_path),
        "DOCKIT_URL": server.url,
        "DOCKIT_USERNAME": server.admin_username,
        "DOCKIT_PASSWORD": server.admin_password or "",
    }
    table = run_cli(["audit", "--kind", "token"], env=env, cwd=tmp_path)
    assert table.code == 0, table
    for raw in ("\x1b", "\u202e", "\r", "\x07"):
        assert raw not in table.stdout, repr(raw)
    assert "\\x1b[2J" in table.stdout
    assert "\\u202e" in table.stdout
    lines = table.stdout.splitlines()
    assert len(lines) == 2, lines  # the header and the one event: no forged line
    assert "\\n2030-01-01" in lines[1]

    exact = run_cli(["audit", "--kind", "token", "-o", "json"], env=env, cwd=tmp_path)
    [event] = exact.json()
    assert event["detail"]["service"] == SERVICE
    assert event["detail"]["requested"] == SCOPE.split()  # scopes are split at white space
