from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import libdockit


def test_all_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(libdockit).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert sorted(libdockit.__all__) == sorted(public)
    assert len(set(libdockit.__all__)) == len(libdockit.__all__)


def test_library_imports_neither_server_nor_ldap_driver() -> None:
    code = (
        "import sys, libdockit, libdockit.backends.sql.backend; "
        "print(','.join(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('dockit_server', 'falcon', 'gunicorn', 'ldap3'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == ""


def test_library_never_reads_the_environment() -> None:
    root = Path(libdockit.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    ]
    assert offenders == []
