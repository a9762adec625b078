"""``dockit healthcheck`` asks /readyz where ``dockit api-server`` listens, with its settings.

The command itself runs against real servers in tests/e2e/test_healthcheck_process.py and
tests/resilience/test_tls.py; here, where each setting leads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dockit_server.config import Settings
from dockit_server.healthcheck import ready_url


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:4315", "http://127.0.0.1:4315/readyz"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080/readyz"),
        ("[::]:4315", "http://[::1]:4315/readyz"),
        ("[::1]:4316", "http://[::1]:4316/readyz"),
        ("dockit.internal:4315", "http://dockit.internal:4315/readyz"),
        ("10.1.2.3:4315", "http://10.1.2.3:4315/readyz"),
    ],
)
def test_ready_url_follows_the_bind(bind: str, url: str) -> None:
    assert ready_url(Settings.load({"DOCKIT_BIND": bind})) == url


def test_ready_url_is_https_with_tls(tmp_path: Path) -> None:
    env = {
        "DOCKIT_BIND": "0.0.0.0:4443",
        "DOCKIT_TLS_CERT_FILE": str(tmp_path / "cert.pem"),
        "DOCKIT_TLS_KEY_FILE": str(tmp_path / "key.pem"),
    }
    assert ready_url(Settings.load(env)) == "https://127.0.0.1:4443/readyz"


def test_ready_url_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "dockit.toml"
    config.write_text('[server]\nbind = "0.0.0.0:9000"\n')
    assert ready_url(Settings.load({"DOCKIT_CONFIG": str(config)})) == (
        "http://127.0.0.1:9000/readyz"
    )
