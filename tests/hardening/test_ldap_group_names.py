"""Directory groups are named by one stable rule on every path, on a real ``dockit
api-server`` and a real slapd: the RDN value (``cn=evil,...`` is ``evil``), never another of
its ``cn`` values. A group listing ``cn: dockit-admins`` first cannot make its members
Dockit admins, and the group search and ``memberOf`` name it alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from libdockit.backends.ldap.groups import group_name
from tests.support.dockit import API, DockitServer
from tests.support.slapd import (
    GROUPS_DN,
    PASSWORDS,
    PEOPLE_DN,
    SERVICE_DN,
    SERVICE_PASSWORD,
    Slapd,
    group_dn,
    require_memberof,
    user_dn,
)

pytestmark = pytest.mark.ldap
SERVICE = "registry.test"
MEMBER = "gina"


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with Slapd(tmp_path_factory.mktemp("slapd")) as server:
        # cn values in this order: a server lists them as stored, so "first" is the attacker's.
        server.modify(
            f"dn: {group_dn('evil')}\nobjectClass: groupOfNames\ncn: dockit-admins\ncn: evil\n"
            f"member: {user_dn(MEMBER)}\n",
            add=True,
        )
        yield server


def toml(slapd: Slapd, workdir: Path, *, member_of_only: bool) -> Path:
    search = (
        'member_of_attribute = "memberOf"'
        if member_of_only
        else f'base_dn = "{GROUPS_DN}"\nuser_matchers = [{{ user_attribute = "DN", '
        'group_attribute = "member" }]'
    )
    config = workdir / "dockit.toml"
    config.write_text(
        f"""
[ldap]
urls = ["{slapd.url}"]
bind_dn = "{SERVICE_DN}"
bind_password = "{SERVICE_PASSWORD}"
admin_group = "dockit-admins"
group_cache_seconds = 0
password_cache_seconds = 0

[ldap.user_search]
base_dn = "{PEOPLE_DN}"
filter = "(objectClass=inetOrgPerson)"

[ldap.group_search]
{search}
"""
    )
    return config


@pytest.mark.parametrize("member_of_only", [False, True], ids=["group-search", "memberOf"])
def test_a_group_with_several_cn_values_keeps_its_rdn_name(
    slapd: Slapd, tmp_path: Path, member_of_only: bool
) -> None:
    if member_of_only:
        require_memberof(slapd)
    env = {"DOCKIT_CONFIG": str(toml(slapd, tmp_path, member_of_only=member_of_only))}
    with DockitServer(tmp_path, workers=1, extra_env=env) as server:
        creds = (MEMBER, PASSWORDS[MEMBER])
        # Not an admin: the group is "evil", whatever value the server lists first.
        refused = server.request("GET", API + "/users", creds=creds)
        assert refused.status == 403, refused
        server.grant("group:evil", "repository:evil/**:pull")
        server.grant("group:dockit-admins", "repository:admins/**:pull")
        explained = server.admin(
            "GET", f"/explain?user={MEMBER}&scope=repository:evil/x:pull", expect=200
        ).json()
        assert explained["groups"] == ["evil"]
        answer = server.token(
            SERVICE, ["repository:evil/x:pull", "repository:admins/x:pull"], creds
        )
        assert answer.status == 200, answer
        access = jwt.decode(answer.token, options={"verify_signature": False})["access"]
        assert {entry["name"]: entry["actions"] for entry in access} == {
            "evil/x": ["pull"],
            "admins/x": [],
        }


@pytest.mark.parametrize(
    ("dn", "values", "name"),
    [
        ("cn=evil,ou=groups,dc=x", ["dockit-admins", "evil"], "evil"),
        ("cn=evil,ou=groups,dc=x", None, "evil"),
        ("CN=Devs,ou=groups,dc=x", ["devs"], "Devs"),
        ("ou=team,ou=groups,dc=x", ["team-a"], "team-a"),
        ("ou=team,ou=groups,dc=x", ["team-a", "dockit-admins"], None),
        ("ou=team,ou=groups,dc=x", None, None),
        ("cn=a+uid=b,ou=groups,dc=x", ["a", "dockit-admins"], None),
        ("cn=a+uid=b,ou=groups,dc=x", ["a"], "a"),
    ],
)
def test_the_naming_rule(dn: str, values: list[str] | None, name: str | None) -> None:
    assert group_name(dn, "cn", values) == name
