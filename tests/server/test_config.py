from __future__ import annotations

from pathlib import Path

import pytest

from dockit_server.config import Settings
from libdockit.errors import ConfigError


def test_defaults() -> None:
    settings = Settings.load({})
    assert settings.server_bind == "127.0.0.1:4315"
    assert settings.database_url.reveal() == "sqlite:///dockit.db"
    assert settings.token_issuer == "dockit"
    assert settings.token_lifetime == 300
    assert settings.keys_algorithm == "ES256"
    assert settings.token_services == ()


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = tmp_path / "dockit.toml"
    config.write_text(
        '[server]\nbind = "0.0.0.0:9000"\nworkers = 4\n'
        '[token]\nissuer = "from-file"\nservices = ["a", "b"]\nlifetime = 600\n'
    )
    settings = Settings.load({"DOCKIT_CONFIG": str(config), "DOCKIT_ISSUER": "from-env"})
    assert settings.server_bind == "0.0.0.0:9000"
    assert settings.server_workers == 4
    assert settings.token_issuer == "from-env"
    assert settings.token_services == ("a", "b")
    assert settings.token_lifetime == 600


def test_secret_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    settings = Settings.load({"DOCKIT_ADMIN_PASSWORD_FILE": str(secret)})
    assert settings.admin_password is not None
    assert settings.admin_password.reveal() == "s3cret"
    config = tmp_path / "dockit.toml"
    config.write_text(f'[admin]\npassword_file = "{secret}"\n')
    from_toml = Settings.load({"DOCKIT_CONFIG": str(config)})
    assert from_toml.admin_password is not None
    assert from_toml.admin_password.reveal() == "s3cret"


def test_serving_timeouts() -> None:
    defaults = Settings.load({})
    assert (defaults.server_read_timeout, defaults.database_timeout) == (10, 5.0)
    env = {"DOCKIT_READ_TIMEOUT": "3", "DOCKIT_DATABASE_TIMEOUT": "0.5"}
    settings = Settings.load(env)
    assert (settings.server_read_timeout, settings.database_timeout) == (3, 0.5)


def test_services_from_env_list() -> None:
    assert Settings.load({"DOCKIT_SERVICES": "a, b,,c"}).token_services == ("a", "b", "c")


def test_jwks_services() -> None:
    env = {"DOCKIT_SERVICES": "reg2,reg3", "DOCKIT_JWKS_SERVICES": "reg3"}
    assert Settings.load(env).token_jwks_services == ("reg3",)
    # Any service is served without an allow-list, so any may be a JWKS service.
    assert Settings.load({"DOCKIT_JWKS_SERVICES": "x, y"}).token_jwks_services == ("x", "y")
    assert Settings.load({}).token_jwks_services == ()


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"DOCKIT_TOKEN_LIFETIME": "59"}, "token.lifetime"),
        ({"DOCKIT_TOKEN_LIFETIME": "ten"}, "token.lifetime"),
        ({"DOCKIT_WORKERS": "0"}, "server.workers"),
        ({"DOCKIT_KEY_ALGORITHM": "HS256"}, "keys.algorithm"),
        ({"DOCKIT_BIND": "nowhere"}, "server.bind"),
        ({"DOCKIT_BIND": "127.0.0.1:99999"}, "server.bind"),
        ({"DOCKIT_DATABASE_URL": "mysql://x"}, "database.url"),
        ({"DOCKIT_KEY_FILE": "/k.pem"}, "keys.key_file"),
        ({"DOCKIT_ADMIN_PASSWORD_FILE": "/nonexistent/pw"}, "admin.password"),
        ({"DOCKIT_CONFIG": "/nonexistent/dockit.toml"}, "DOCKIT_CONFIG"),
        ({"DOCKIT_SERVICES": "reg2", "DOCKIT_JWKS_SERVICES": "reg3"}, "token.jwks_services"),
        ({"DOCKIT_READ_TIMEOUT": "0"}, "server.read_timeout"),
        ({"DOCKIT_READ_TIMEOUT": "1.5"}, "server.read_timeout"),
        ({"DOCKIT_DATABASE_TIMEOUT": "21"}, "database.timeout"),
        ({"DOCKIT_DATABASE_TIMEOUT": "never"}, "database.timeout"),
    ],
)
def test_bad_settings_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(env)
    assert caught.value.key == key
    assert caught.value.message.startswith(key)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[server]\nbindd = 'x:1'\n", "server.bindd"),
        ("[tokens]\nissuer = 'x'\n", "tokens.issuer"),
        ("[token]\nlifetime = '5m'\n", "token.lifetime"),
        ("[token]\nissuer_file = '/x'\n", "token.issuer_file"),
        ("server = 1\n", "server"),
        ("[server\n", "DOCKIT_CONFIG"),
    ],
)
def test_bad_toml_names_the_key(tmp_path: Path, toml: str, key: str) -> None:
    config = tmp_path / "dockit.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        Settings.load({"DOCKIT_CONFIG": str(config)})
    assert caught.value.key == key


def test_database_password_never_in_repr() -> None:
    settings = Settings.load({"DOCKIT_DATABASE_URL": "postgresql://u:hunter2@db/dockit"})
    assert "hunter2" not in repr(settings)
