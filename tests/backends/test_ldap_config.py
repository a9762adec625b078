"""LDAP settings (TOML ``[ldap]`` tables and ``DOCKIT_LDAP_*``), their checks naming the
dotted key, and the server built from them: chain wiring, /v2/token and /readyz."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import falcon.testing
import pytest

from dockit_server import bootstrap
from dockit_server.app import create_app
from dockit_server.bootstrap import build_components, prepare
from dockit_server.components import Components
from dockit_server.config import Settings
from dockit_server.resources.health import ReadinessChecks
from libdockit.backends.ldap.backend import LdapAuthenticator
from libdockit.backends.ldap.config import (
    DEFAULT_GROUP_FILTER,
    GroupSearch,
    LdapConfig,
    UserMatcher,
    UserSearch,
)
from libdockit.errors import ConfigError
from libdockit.secret import Secret
from tests.support.hashing import CountingHasher
from tests.support.slapd import GROUPS_DN, PEOPLE_DN, SERVICE_DN, SERVICE_PASSWORD, Slapd

FULL_TOML = """
[ldap]
urls = ["ldaps://ldap1.example.org", "ldaps://ldap2.example.org:1636"]
ca_file = "{ca}"
connect_timeout = 2.5
receive_timeout = 7
bind_dn = "cn=dockit,ou=system,dc=example,dc=org"
bind_password_file = "{password_file}"
admin_group = "registry-admins"
group_cache_seconds = 30
password_cache_seconds = 120
local_users_shadow_ldap = true
ready_requires_directory = true

[ldap.user_search]
base_dn = "ou=people,dc=example,dc=org"
filter = "(objectClass=inetOrgPerson)"
username_attributes = ["uid", "mail"]
scope = "one"
display_name_attribute = "cn"
email_attribute = ""

[ldap.group_search]
base_dn = "ou=groups,dc=example,dc=org"
filter = "(objectClass=groupOfNames)"
user_matchers = [
  {{ user_attribute = "DN", group_attribute = "member" }},
  {{ user_attribute = "uid", group_attribute = "memberUid" }},
]
name_attribute = "cn"
member_of_attribute = "memberOf"
nested = true
max_depth = 3
"""


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "dockit.toml"
    path.write_text(text)
    return {"DOCKIT_CONFIG": str(path)}


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("(the checks only need the file to exist)\n")
    return path


def test_ldap_is_off_by_default() -> None:
    assert Settings.load({}).ldap is None


def test_full_toml(tmp_path: Path, ca_file: Path) -> None:
    password_file = tmp_path / "bind-pw"
    password_file.write_text("s3cret\n")
    env = write(tmp_path, FULL_TOML.format(ca=ca_file, password_file=password_file))
    settings = Settings.load(env)
    assert settings.ldap_local_users_shadow_ldap is True
    assert settings.ldap_ready_requires_directory is True
    assert settings.ldap == LdapConfig(
        urls=("ldaps://ldap1.example.org", "ldaps://ldap2.example.org:1636"),
        ca_file=ca_file,
        connect_timeout=2.5,
        receive_timeout=7,
        bind_dn="cn=dockit,ou=system,dc=example,dc=org",
        bind_password=Secret("s3cret"),
        admin_group="registry-admins",
        group_cache_seconds=30,
        password_cache_seconds=120,
        user_search=UserSearch(
            base_dn="ou=people,dc=example,dc=org",
            filter="(objectClass=inetOrgPerson)",
            username_attributes=("uid", "mail"),
            scope="one",
            display_name_attribute="cn",
            email_attribute=None,
        ),
        group_search=GroupSearch(
            base_dn="ou=groups,dc=example,dc=org",
            filter="(objectClass=groupOfNames)",
            user_matchers=(UserMatcher("DN", "member"), UserMatcher("uid", "memberUid")),
            name_attribute="cn",
            member_of_attribute="memberOf",
            nested=True,
            max_depth=3,
        ),
    )
    assert "s3cret" not in repr(settings)


def test_environment(tmp_path: Path) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text("from-file\n")
    settings = Settings.load(
        {
            "DOCKIT_LDAP_URLS": "ldap://a.example.org, ldap://b.example.org:3389",
            "DOCKIT_LDAP_START_TLS": "true",
            "DOCKIT_LDAP_BIND_DN": "cn=reader,dc=example,dc=org",
            "DOCKIT_LDAP_BIND_PASSWORD_FILE": str(password_file),
            "DOCKIT_LDAP_USER_SEARCH_BASE_DN": "ou=people,dc=example,dc=org",
            "DOCKIT_LDAP_USER_SEARCH_USERNAME_ATTRIBUTES": "uid,mail",
            "DOCKIT_LDAP_GROUP_SEARCH_BASE_DN": "ou=groups,dc=example,dc=org",
            "DOCKIT_LDAP_GROUP_SEARCH_USER_MATCHERS": "DN:member, uid:memberUid",
            "DOCKIT_LDAP_GROUP_SEARCH_NESTED": "yes",
            "DOCKIT_LDAP_GROUP_CACHE_SECONDS": "0",
            "DOCKIT_LDAP_PASSWORD_CACHE_SECONDS": "0",
            "DOCKIT_LDAP_CONNECT_TIMEOUT": "0.5",
        }
    )
    config = settings.ldap
    assert config is not None
    assert config.urls == ("ldap://a.example.org", "ldap://b.example.org:3389")
    assert config.start_tls is True
    assert config.bind_password == Secret("from-file")
    assert config.user_search.username_attributes == ("uid", "mail")
    assert config.group_search.user_matchers == (
        UserMatcher("DN", "member"),
        UserMatcher("uid", "memberUid"),
    )
    assert config.group_search.nested is True
    assert config.group_search.filter == DEFAULT_GROUP_FILTER
    assert config.group_cache_seconds == 0
    assert config.password_cache_seconds == 0
    assert config.connect_timeout == 0.5


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        '[ldap]\nurls = ["ldap://file.example.org"]\n'
        '[ldap.user_search]\nbase_dn = "ou=people,dc=example,dc=org"\n',
    )
    env["DOCKIT_LDAP_URLS"] = "ldap://env.example.org"
    config = Settings.load(env).ldap
    assert config is not None
    assert config.urls == ("ldap://env.example.org",)
    assert config.password_cache_seconds == 60  # the default
    env["DOCKIT_LDAP_PASSWORD_CACHE_SECONDS"] = "3600"
    config = Settings.load(env).ldap
    assert config is not None
    assert config.password_cache_seconds == 3600


BASE = '[ldap]\nurls = ["ldap://ldap.example.org"]\n[ldap.user_search]\nbase_dn = "ou=p,dc=x"\n'


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[ldap]\nurl = 'ldap://x'\n", "ldap.url"),
        ("[ldap]\nurls = 5\n", "ldap.urls"),
        ("[ldap]\nurls = ['http://x']\n[ldap.user_search]\nbase_dn='dc=x'\n", "ldap.urls"),
        ("[ldap]\nurls = ['ldap://x/dc=x?uid']\n[ldap.user_search]\nbase_dn='dc=x'\n", "ldap.urls"),
        ("[ldap]\nurls = ['ldap://']\n[ldap.user_search]\nbase_dn='dc=x'\n", "ldap.urls"),
        ("[ldap]\nurls = ['ldap://x']\n", "ldap.user_search.base_dn"),
        ("[ldap]\nstart_tls = true\n", "ldap.urls"),
        ("[ldap.user_search]\nbase_dn = 'dc=x'\n", "ldap.urls"),
        ("[ldap]\nuser_search = 'x'\n", "ldap.user_search"),
        (BASE + "bogus = 1\n", "ldap.user_search.bogus"),
        (BASE + "base_dn_file = '/x'\n", "ldap.user_search.base_dn_file"),
        (BASE + "scope = 'base'\n", "ldap.user_search.scope"),
        (BASE + "filter = 'uid=*'\n", "ldap.user_search.filter"),
        (BASE + "filter = '(uid=*))('\n", "ldap.user_search.filter"),
        (BASE + "username_attributes = []\n", "ldap.user_search.username_attributes"),
        (BASE + "username_attributes = ['u id']\n", "ldap.user_search.username_attributes"),
        (BASE + "email_attribute = 3\n", "ldap.user_search.email_attribute"),
        (BASE.replace("ou=p,dc=x", "people"), "ldap.user_search.base_dn"),
        (BASE + "[ldap.group_search]\nmax_depth = 0\n", "ldap.group_search.max_depth"),
        (BASE + "[ldap.group_search]\nmax_depth = 33\n", "ldap.group_search.max_depth"),
        (BASE + "[ldap.group_search]\nnested = 'maybe'\n", "ldap.group_search.nested"),
        (BASE + "[ldap.group_search]\nnested = true\n", "ldap.group_search.base_dn"),
        (BASE + "[ldap.group_search]\nuser_matchers = []\n", "ldap.group_search.user_matchers"),
        (
            BASE + "[ldap.group_search]\nuser_matchers = [{user_attribute = 'DN'}]\n",
            "ldap.group_search.user_matchers",
        ),
        (
            BASE
            + "[ldap.group_search]\nbase_dn = 'ou=g,dc=x'\nnested = true\n"
            + "user_matchers = [{user_attribute = 'uid', group_attribute = 'memberUid'}]\n",
            "ldap.group_search.nested",
        ),
        (BASE + "[ldap.group_search]\nscope = 'base'\n", "ldap.group_search.scope"),
        (BASE + "[ldap.group_search]\nbogus = 1\n", "ldap.group_search.bogus"),
        (BASE + "[ldap.bogus]\nx = 1\n", "ldap.bogus"),
        (BASE.replace("[ldap]\n", "[ldap]\nstart_tls = 'x'\n"), "ldap.start_tls"),
        (
            BASE.replace("[ldap]\n", "[ldap]\nstart_tls = true\n").replace("ldap://", "ldaps://"),
            "ldap.start_tls",
        ),
        (BASE.replace("[ldap]\n", "[ldap]\nconnect_timeout = 0\n"), "ldap.connect_timeout"),
        (BASE.replace("[ldap]\n", "[ldap]\nreceive_timeout = 0.5\n"), "ldap.receive_timeout"),
        (
            BASE.replace("[ldap]\n", "[ldap]\ngroup_cache_seconds = -1\n"),
            "ldap.group_cache_seconds",
        ),
        (
            BASE.replace("[ldap]\n", "[ldap]\npassword_cache_seconds = -1\n"),
            "ldap.password_cache_seconds",
        ),
        (
            BASE.replace("[ldap]\n", "[ldap]\npassword_cache_seconds = 3601\n"),
            "ldap.password_cache_seconds",
        ),
        (
            BASE.replace("[ldap]\n", "[ldap]\npassword_cache_seconds = 1.5\n"),
            "ldap.password_cache_seconds",
        ),
        ("[ldap]\npassword_cache_seconds = 0\n", "ldap.urls"),
        (BASE.replace("[ldap]\n", "[ldap]\nadmin_group = 'Registry Admins'\n"), "ldap.admin_group"),
        (BASE.replace("[ldap]\n", "[ldap]\nadmin_group = 'Admins'\n"), "ldap.admin_group"),
        (BASE.replace("[ldap]\n", "[ldap]\nbind_dn = 'cn=x'\n"), "ldap.bind_password"),
        (BASE.replace("[ldap]\n", "[ldap]\nbind_password = 'x'\n"), "ldap.bind_password"),
        (
            BASE.replace("[ldap]\n", "[ldap]\nbind_password_file = '/nonexistent/pw'\n"),
            "ldap.bind_password_file",
        ),
        (BASE.replace("[ldap]\n", "[ldap]\nca_file = '/nonexistent/ca.pem'\n"), "ldap.ca_file"),
        (
            BASE.replace("[ldap]\n", "[ldap]\nclient_cert_file = '/nonexistent/c.pem'\n"),
            "ldap.client_cert_file",
        ),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(write(tmp_path, toml))
    assert caught.value.key == key, caught.value.message
    assert caught.value.message.startswith(key)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"DOCKIT_LDAP_URLS": "ldap://x"}, "ldap.user_search.base_dn"),
        ({"DOCKIT_LDAP_BIND_DN": "cn=x"}, "ldap.urls"),
        ({"DOCKIT_LDAP_BIND_PASSWORD_FILE": "/nonexistent"}, "ldap.bind_password"),
        ({"DOCKIT_LDAP_GROUP_SEARCH_USER_MATCHERS": "DN"}, "ldap.group_search.user_matchers"),
        ({"DOCKIT_LDAP_CONNECT_TIMEOUT": "soon"}, "ldap.connect_timeout"),
        ({"DOCKIT_LDAP_GROUP_SEARCH_MAX_DEPTH": "99"}, "ldap.group_search.max_depth"),
        (
            {"DOCKIT_LDAP_URLS": "ldap://x", "DOCKIT_LDAP_PASSWORD_CACHE_SECONDS": "3601"},
            "ldap.password_cache_seconds",
        ),
        (
            {"DOCKIT_LDAP_URLS": "ldap://x", "DOCKIT_LDAP_PASSWORD_CACHE_SECONDS": "soon"},
            "ldap.password_cache_seconds",
        ),
        ({"DOCKIT_LDAP_PASSWORD_CACHE_SECONDS": "0"}, "ldap.urls"),
        ({"DOCKIT_LDAP_URLS": "ldap://x", "DOCKIT_LDAP_TIMEOUT": "25"}, "ldap.timeout"),
        ({"DOCKIT_LDAP_URLS": "ldap://x", "DOCKIT_LDAP_TIMEOUT": "0"}, "ldap.timeout"),
        (
            {"DOCKIT_LDAP_URLS": "ldap://x", "DOCKIT_LDAP_MAX_CONCURRENT": "0"},
            "ldap.max_concurrent",
        ),
    ],
)
def test_bad_environment_names_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(env)
    assert caught.value.key == key, caught.value.message


def test_password_cache_bounds_in_the_library() -> None:
    config = LdapConfig(urls=("ldap://x",), user_search=UserSearch(base_dn="ou=p,dc=x"))
    assert config.password_cache_seconds == 60
    for seconds in (0, 0.5, 3600):
        replace(config, password_cache_seconds=seconds).check()
    for seconds in (-1, 3600.5):
        with pytest.raises(ConfigError) as caught:
            replace(config, password_cache_seconds=seconds).check()
        assert caught.value.key == "ldap.password_cache_seconds"


def test_other_sections_still_reject_nested_tables(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(write(tmp_path, "[server]\n[server.extra]\nx = 1\n"))
    assert caught.value.key == "server.extra"


# -- the server built from LDAP settings ----------------------------------------------------------


@pytest.fixture(scope="module")
def slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


def server_settings(tmp_path: Path, slapd: Slapd, **extra: str) -> Settings:
    env = {
        "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path / 'dockit.db'}",
        "DOCKIT_ADMIN_PASSWORD": "admin-pw",
        "DOCKIT_SERVICES": "registry.test",
        "DOCKIT_LDAP_URLS": slapd.ldaps_url,
        "DOCKIT_LDAP_CA_FILE": str(slapd.pki.ca_file),
        "DOCKIT_LDAP_BIND_DN": SERVICE_DN,
        "DOCKIT_LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
        "DOCKIT_LDAP_USER_SEARCH_BASE_DN": PEOPLE_DN,
        "DOCKIT_LDAP_GROUP_SEARCH_BASE_DN": GROUPS_DN,
        "DOCKIT_LDAP_GROUP_SEARCH_USER_MATCHERS": "DN:member,uid:memberUid",
        "DOCKIT_LDAP_ADMIN_GROUP": "dockit-admins",
        **extra,
    }
    return Settings.load(env)


@contextmanager
def built(settings: Settings) -> Iterator[Components]:
    """build_components, then close the directory's pooled connections."""
    components = build_components(settings)
    try:
        yield components
    finally:
        assert isinstance(components.health, ReadinessChecks)
        for named in components.health.checks:
            if isinstance(named.check, LdapAuthenticator):
                named.check.close()


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.ldap
def test_server_with_ldap(tmp_path: Path) -> None:
    with Slapd() as slapd:
        # Every directory login asks the directory, so stopping it shows at once.
        settings = server_settings(tmp_path, slapd, DOCKIT_LDAP_PASSWORD_CACHE_SECONDS="0")
        prepare(settings)
        with built(settings) as components:
            check_server(slapd, tmp_path, falcon.testing.TestClient(create_app(components)))


def check_server(slapd: Slapd, tmp_path: Path, client: falcon.testing.TestClient) -> None:
    admin = basic("admin", "admin-pw")
    created = client.simulate_post(
        "/api/v1/grants",
        headers=admin,
        json={"subject": "group:ops", "scope": "repository:ops/*:pull,push"},
    )
    assert created.status_code == 201, created.text
    query = "service=registry.test&scope=repository:ops/tool:pull,push"

    answer = client.simulate_get(f"/v2/token?{query}", headers=basic("bob", "bob-pw"))
    assert answer.status_code == 200, answer.text
    answer = client.simulate_get(f"/v2/token?{query}", headers=basic("bob", "wrong"))
    assert answer.status_code == 401, answer.text
    # The local admin still logs in; a directory admin may use the Admin API.
    assert client.simulate_get("/api/v1/users", headers=admin).status_code == 200
    carol = client.simulate_get("/api/v1/users", headers=basic("carol", "carol-pw"))
    assert carol.status_code == 200, carol.text
    alice = client.simulate_get("/api/v1/users", headers=basic("alice", "alice-pw"))
    assert alice.status_code == 403, alice.text

    ready = client.simulate_get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {
        "status": "ok",
        "checks": {"store": "ok", "directory": "ok", "certificates": "ok", "signing_key": "ok"},
    }

    slapd.stop()
    answer = client.simulate_get(f"/v2/token?{query}", headers=basic("bob", "bob-pw"))
    assert answer.status_code == 503, answer.text
    assert "bob-pw" not in answer.text
    # Local users do not need the directory.
    assert client.simulate_get("/api/v1/users", headers=admin).status_code == 200
    ready = client.simulate_get("/readyz")
    assert ready.status_code == 200
    assert ready.json["status"] == "degraded"
    assert ready.json["checks"]["store"] == "ok"
    assert "LDAP directory" in ready.json["checks"]["directory"]

    strict = server_settings(tmp_path, slapd, DOCKIT_LDAP_READY_REQUIRES_DIRECTORY="1")
    with built(strict) as components:
        ready = falcon.testing.TestClient(create_app(components)).simulate_get("/readyz")
    assert ready.status_code == 503
    assert ready.json["status"] == "unavailable"

    slapd.start()
    answer = client.simulate_get(f"/v2/token?{query}", headers=basic("bob", "bob-pw"))
    assert answer.status_code == 200, answer.text
    assert client.simulate_get("/readyz").json["status"] == "ok"


def token_costs(
    client: falcon.testing.TestClient, hasher: CountingHasher, username: str, password: str
) -> tuple[int, int, int]:
    """(HTTP status, verifies, dummy verifies) of one /v2/token request."""
    hasher.reset()
    answer = client.simulate_get(
        "/v2/token?service=registry.test", headers=basic(username, password)
    )
    return answer.status_code, hasher.verifies, hasher.dummies


@pytest.mark.ldap
def test_directory_logins_through_the_server_spend_no_hash(
    tmp_path: Path, slapd: Slapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory login costs no argon2 (cold or cached); every refusal costs one."""
    settings = server_settings(tmp_path, slapd)
    prepare(settings)
    hasher = CountingHasher()
    monkeypatch.setattr(bootstrap, "PasswordHasher", lambda: hasher)
    with built(settings) as components:
        client = falcon.testing.TestClient(create_app(components))
        assert token_costs(client, hasher, "bob", "bob-pw") == (200, 0, 0)
        assert token_costs(client, hasher, "bob", "bob-pw") == (200, 0, 0)
        assert token_costs(client, hasher, "bob", "wrong") == (401, 0, 1)
        assert token_costs(client, hasher, "nobody-here", "x-pw") == (401, 0, 1)
        assert token_costs(client, hasher, "admin", "wrong") == (401, 1, 0)
        assert token_costs(client, hasher, "admin", "admin-pw") == (200, 1, 0)


def test_without_ldap_an_unknown_name_still_costs_a_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.load(
        {
            "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path / 'dockit.db'}",
            "DOCKIT_ADMIN_PASSWORD": "admin-pw",
            "DOCKIT_SERVICES": "registry.test",
        }
    )
    prepare(settings)
    hasher = CountingHasher()
    monkeypatch.setattr(bootstrap, "PasswordHasher", lambda: hasher)
    client = falcon.testing.TestClient(create_app(build_components(settings)))
    assert token_costs(client, hasher, "nobody-here", "x-pw") == (401, 0, 1)
    assert token_costs(client, hasher, "admin", "wrong") == (401, 1, 0)


@pytest.mark.ldap
def test_explain_uses_directory_groups(tmp_path: Path, slapd: Slapd) -> None:
    settings = server_settings(tmp_path, slapd)
    prepare(settings)
    with built(settings) as components:
        explanation = components.tokens.explain("dave", [])
        assert explanation.groups == ("frontend",)  # not nested in these settings
        assert components.tokens.explain("bob", []).groups == ("ops",)


def test_start_up_without_ldap3_names_the_setting_and_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['ldap3'] = None\n"
        "from dockit_server.bootstrap import prepare\n"
        "from dockit_server.config import Settings\n"
        "from libdockit.errors import ConfigError\n"
        "settings = Settings.load({\n"
        f"    'DOCKIT_DATABASE_URL': 'sqlite:///{tmp_path / 'dockit.db'}',\n"
        "    'DOCKIT_LDAP_URLS': 'ldap://127.0.0.1:1',\n"
        "    'DOCKIT_LDAP_USER_SEARCH_BASE_DN': 'ou=people,dc=x',\n"
        "})\n"
        "try:\n"
        "    prepare(settings)\n"
        "except ConfigError as exc:\n"
        "    print(exc.key, exc.message)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.startswith("ldap.urls ldap.urls: LDAP support needs the ldap3 package")
    assert "pip install 'dockit[ldap]'" in result.stdout
    assert not (tmp_path / "dockit.db").exists()  # nothing was created
