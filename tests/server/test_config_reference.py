"""Every setting is documented where a newcomer looks: the README's configuration tables name
exactly the settings the code reads (with their environment variables), and
``dockit api-server --help`` lists them all, from the code. A setting added without its README
row, or a row left behind for a setting removed, fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dockit_server.cli import main
from dockit_server.config import Settings
from dockit_server.config_fields import setting_names

README = Path(__file__).resolve().parents[2] / "README.md"
_TICKED = re.compile(r"`([^`]+)`")


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    level = heading.split(" ", maxsplit=1)[0]
    end = text.find(f"\n{level} ", start + len(heading) + 2)
    return text[start : end if end >= 0 else len(text)]


def _rows(section: str, header_start: str) -> list[list[str]]:
    """The cells of the table whose header row starts with ``header_start``."""
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def readme_settings() -> dict[str, str | None]:
    """Dotted key -> environment variable (None where the table gives none) from the README."""
    text = README.read_text(encoding="utf-8")
    found: dict[str, str | None] = {}
    configuration = _section(text, "## Configuration")
    for cells in _rows(configuration, "| TOML key |"):
        keys = _TICKED.findall(cells[0])
        envs = [env for env in _TICKED.findall(cells[1]) if env.startswith("DOCKIT_")]
        assert len(envs) == len(keys), cells
        found.update(zip(keys, envs, strict=True))
    ldap = _section(text, "## Log in with LDAP")
    for cells in _rows(ldap, "| key under `[ldap]` |"):
        for key in _TICKED.findall(cells[0]):
            found["ldap." + key] = None
    return found


def test_the_readme_tables_name_exactly_the_settings_in_the_code() -> None:
    documented = readme_settings()
    in_code = {name.key: name.env for name in setting_names()}
    assert sorted(set(in_code) - set(documented)) == [], "settings missing from the README"
    assert sorted(set(documented) - set(in_code)) == [], "README rows for unknown settings"
    for key, env in documented.items():
        if env is not None:
            assert in_code[key] == env, key
        else:  # the LDAP section documents the rule instead of each variable
            assert in_code[key] == "DOCKIT_LDAP_" + key[5:].upper().replace(".", "_")


def test_api_server_help_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["api-server", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for name in setting_names():
        assert re.search(rf"^\s+{re.escape(name.key)}\s+{name.env}\b", text, re.MULTILINE), name


def test_the_active_directory_example_is_a_valid_configuration(tmp_path: Path) -> None:
    """Not tested against a real Active Directory: its shape, through the real parser."""
    text = _section(README.read_text(encoding="utf-8"), "### Active Directory")
    block = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    # The files it names, stand-ins here: they are read when the settings load.
    text = block.group(1)
    for name in ("/run/secrets/ad-bind-password", "/etc/dockit/corp-root-ca.pem"):
        assert name in text
        stand_in = tmp_path / Path(name).name
        stand_in.write_text("stand-in\n")
        text = text.replace(name, str(stand_in))
    config = tmp_path / "dockit.toml"
    config.write_text(text)
    ldap = Settings.load(environ={"DOCKIT_CONFIG": str(config)}).ldap
    assert ldap is not None
    assert all(url.startswith("ldaps://") for url in ldap.urls)
    assert ldap.user_search.username_attributes == ("sAMAccountName",)
    assert "(memberOf:1.2.840.113556.1.4.1941:=CN=registry-users," in ldap.user_search.filter
    assert ldap.group_search.member_of_attribute == "memberOf"
    assert ldap.group_search.nested
