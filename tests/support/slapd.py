"""A real, throw-away OpenLDAP ``slapd`` (Debian 2.5) on free loopback ports, for LDAP tests.

:class:`Slapd` writes a ``slapd.conf`` (back_mdb in a temporary directory, the core, cosine,
inetorgperson and nis schemas, the memberof and refint overlays when the modules exist),
loads the people with ``slapadd`` and starts ``slapd -d 256`` in the foreground (so the PID is
the one we started, and we stop it by that PID). It listens on ``ldap://127.0.0.1:PORT``
(StartTLS available) and ``ldaps://127.0.0.1:TLS_PORT`` with a server certificate for
``127.0.0.1`` issued by a throw-away CA (:class:`DirectoryPki`).

Groups are added with ``ldapadd`` once slapd runs: the memberof overlay only maintains
``memberOf`` for online writes, and slapadd bypasses overlays. :meth:`Slapd.modify` runs
``ldapmodify`` as the root DN to change the directory in the middle of a test.

The test directory (:data:`DEFAULT_PEOPLE_LDIF` and :data:`DEFAULT_GROUPS_LDIF`)::

    alice   developers (groupOfNames member)         + "All Staff" (a name Dockit cannot use)
    bob     ops (posixGroup memberUid)
    carol   dockit-admins (groupOfNames member)      the admin_group in tests
    dave    frontend, which is a member of developers   (nested)
    erin    cycle-a <-> cycle-b                          (nested, with a cycle)
    weird   DN "cn=weird (x*),...", in "weird (inner*)", which is in weird-parent
    Frank   no group; uid in mixed case
    gina    no group
    twin    two entries with uid=twin                   (ambiguous: nobody may log in)
"""

from __future__ import annotations

import ipaddress
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from libdockit.backends.ldap.config import GroupSearch, LdapConfig, UserMatcher, UserSearch
from libdockit.secret import Secret
from libdockit.testing.pki import Issued, make_ca, new_private_key
from tests.support.procs import (
    LOOPBACK,
    ManagedProcess,
    free_port,
    in_ci,
    port_open,
    require_binary,
)

SUFFIX = "dc=dockit,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-pw-never-shown"
PEOPLE_DN = f"ou=people,{SUFFIX}"
GROUPS_DN = f"ou=groups,{SUFFIX}"
SERVICE_DN = f"cn=dockit-reader,ou=system,{SUFFIX}"
SERVICE_PASSWORD = "reader-pw-never-shown"
MODULE_DIR = Path("/usr/lib/ldap")
SCHEMA_DIR = Path("/etc/ldap/schema")
_HINT = "apt-get install slapd ldap-utils"

#: Test users and their passwords.
PASSWORDS: dict[str, str] = {
    "alice": "alice-pw",
    "bob": "bob-pw",
    "carol": "carol-pw",
    "dave": "dave-pw",
    "erin": "erin-pw",
    "Frank": "frank-pw",
    "gina": "gina-pw",
}
TWIN_PASSWORD = "twin-pw"
#: A user whose DN holds filter metacharacters, in groups whose DNs hold them too.
WEIRD_DN = f"cn=weird (x*),ou=people,{SUFFIX}"
WEIRD_PASSWORD = "weird-pw"


def user_dn(uid: str, ou: str = "people") -> str:
    return f"uid={uid},ou={ou},{SUFFIX}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS_DN}"


def _person(uid: str, password: str, *, ou: str = "people", uid_number: int = 0) -> str:
    lines = [
        f"dn: {user_dn(uid, ou)}",
        "objectClass: inetOrgPerson",
        f"uid: {uid}",
        f"cn: {uid.title()} Example",
        f"sn: {uid.title()}",
        f"displayName: {uid.title()} Example",
        f"mail: {uid.lower()}@dockit.test",
        f"userPassword: {password}",
    ]
    if uid_number:
        lines[1:2] = ["objectClass: inetOrgPerson", "objectClass: posixAccount"]
        lines += [
            f"uidNumber: {uid_number}",
            "gidNumber: 5000",
            f"homeDirectory: /home/{uid.lower()}",
        ]
    return "\n".join(lines) + "\n"


def _people_ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: dockit\n"
        "o: Dockit Test\n",
        f"dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=contractors,{SUFFIX}\nobjectClass: organizationalUnit\nou: contractors\n",
        f"dn: {GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=system,{SUFFIX}\nobjectClass: organizationalUnit\nou: system\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: dockit-reader\nuserPassword: {SERVICE_PASSWORD}\n",
    ]
    for number, (uid, password) in enumerate(PASSWORDS.items(), start=1000):
        entries.append(_person(uid, password, uid_number=number))
    entries.append(_person("twin", TWIN_PASSWORD))
    entries.append(_person("twin", TWIN_PASSWORD, ou="contractors"))
    entries.append(
        f"dn: {WEIRD_DN}\nobjectClass: inetOrgPerson\ncn: weird (x*)\nsn: Weird\nuid: weird\n"
        f"userPassword: {WEIRD_PASSWORD}\n"
    )
    return "\n".join(entries)


def _group_of_names(cn: str, *members: str) -> str:
    lines = [f"dn: {group_dn(cn)}", "objectClass: groupOfNames", f"cn: {cn}"]
    lines += [f"member: {member}" for member in members]
    return "\n".join(lines) + "\n"


def _groups_ldif() -> str:
    return "\n".join(
        [
            _group_of_names("frontend", user_dn("dave")),
            _group_of_names("developers", user_dn("alice"), group_dn("frontend")),
            _group_of_names("dockit-admins", user_dn("carol")),
            _group_of_names("All Staff", user_dn("alice")),
            _group_of_names("weird (inner*)", WEIRD_DN),
            _group_of_names("weird-parent", group_dn("weird (inner*)")),
            # A cycle: each group is a member of the other.
            f"dn: {group_dn('cycle-a')}\nobjectClass: groupOfNames\ncn: cycle-a\n"
            f"member: {user_dn('erin')}\n",
            _group_of_names("cycle-b", group_dn("cycle-a")),
            f"dn: {group_dn('ops')}\nobjectClass: posixGroup\ncn: ops\ngidNumber: 5000\n"
            "memberUid: bob\n",
        ]
    )


DEFAULT_PEOPLE_LDIF = _people_ldif()
#: ``cycle-a`` gets ``cycle-b`` as a member right after the groups are added (see start()).
DEFAULT_GROUPS_LDIF = _groups_ldif()
_CLOSE_CYCLE_LDIF = (
    f"dn: {group_dn('cycle-a')}\nchangetype: modify\nadd: member\nmember: {group_dn('cycle-b')}\n"
)


@dataclass(frozen=True)
class DirectoryPki:
    """A CA, slapd's server certificate for 127.0.0.1, a client certificate, a wrong CA."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    client_cert_file: Path
    client_key_file: Path
    wrong_ca_file: Path

    @classmethod
    def create(
        cls, directory: Path, server_names: Sequence[str] = (LOOPBACK, "localhost")
    ) -> DirectoryPki:
        """``server_names``: the server certificate's subject alternative names."""
        directory.mkdir(parents=True, exist_ok=True)
        ca = make_ca("Dockit Test Directory CA")
        server = _issue(ca, "slapd test server", server_names=server_names)
        client = _issue(ca, "dockit test client", server_names=None)
        wrong = make_ca("Some Other CA")
        files = {
            "ca_file": _pem(ca.certificate),
            "server_cert_file": _pem(server.certificate),
            "server_key_file": server.key_pem(),
            "client_cert_file": _pem(client.certificate),
            "client_key_file": client.key_pem(),
            "wrong_ca_file": _pem(wrong.certificate),
        }
        paths: dict[str, Path] = {}
        for name, content in files.items():
            path = directory / f"{name.removesuffix('_file')}.pem"
            path.write_bytes(content)
            paths[name] = path
        return cls(**paths)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _issue(ca: Issued, common_name: str, *, server_names: Sequence[str] | None) -> Issued:
    """A TLS server (with ``server_names``) or client (None) certificate; pki.issue_leaf
    makes signing certificates, without names or extended key usage."""
    server = server_names is not None
    key = new_private_key("ES256")
    now = datetime.now(UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
    )
    if server_names is not None:
        names: list[x509.GeneralName] = []
        for name in server_names:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                names.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(ca.private_key, hashes.SHA256())
    return Issued(private_key=key, certificate=certificate, issuers=ca.chain)


def memberof_available() -> bool:
    return (MODULE_DIR / "memberof.la").exists() or (MODULE_DIR / "memberof.so").exists()


class Slapd:
    """One slapd with its own database, ports, certificates and log under ``workdir``.

    ``verify_client`` is slapd's ``TLSVerifyClient`` (``never``, ``allow``, ``demand``);
    ``server_names`` go into its certificate (the default matches ``127.0.0.1``).
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        people_ldif: str = DEFAULT_PEOPLE_LDIF,
        groups_ldif: str = DEFAULT_GROUPS_LDIF,
        verify_client: str = "never",
        server_names: Sequence[str] = (LOOPBACK, "localhost"),
        startup_timeout: float = 20.0,
    ) -> None:
        self.slapd = require_binary("slapd", hint=_HINT)
        self.slapadd = require_binary("slapadd", hint=_HINT)
        self.ldapmodify_binary = require_binary("ldapmodify", hint=_HINT)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="dockit-slapd-")
            workdir = Path(self._tempdir.name)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port()
        self.verify_client = verify_client
        self.startup_timeout = startup_timeout
        self.memberof = memberof_available()
        self.pki = DirectoryPki.create(self.workdir / "pki", server_names)
        self.db_dir = self.workdir / "db"
        self.config_path = self.workdir / "slapd.conf"
        self.log_path = self.workdir / "slapd.log"
        self._people_ldif = people_ldif
        self._groups_ldif = groups_ldif
        self._loaded = False
        self._process: ManagedProcess | None = None

    # -- addresses --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ldap://{LOOPBACK}:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{LOOPBACK}:{self.tls_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    # -- configuration ----------------------------------------------------------------------
    def config_text(self) -> str:
        modules = ["back_mdb"]
        overlays: list[str] = []
        if self.memberof:
            modules += ["memberof", "refint"]
            overlays = [
                "overlay memberof",
                "memberof-group-oc groupOfNames",
                "memberof-member-ad member",
                "memberof-memberof-ad memberOf",
                "memberof-refint TRUE",
                "overlay refint",
                "refint_attributes member",
            ]
        schemas = [f"include {SCHEMA_DIR / name}.schema" for name in _SCHEMAS]
        return "\n".join(
            [
                *schemas,
                f"pidfile {self.workdir / 'slapd.pid'}",
                f"argsfile {self.workdir / 'slapd.args'}",
                f"modulepath {MODULE_DIR}",
                *(f"moduleload {module}" for module in modules),
                f"TLSCACertificateFile {self.pki.ca_file}",
                f"TLSCertificateFile {self.pki.server_cert_file}",
                f"TLSCertificateKeyFile {self.pki.server_key_file}",
                f"TLSVerifyClient {self.verify_client}",
                "database mdb",
                f"suffix {SUFFIX}",
                f"rootdn {ROOT_DN}",
                f"rootpw {ROOT_PASSWORD}",
                f"directory {self.db_dir}",
                "maxsize 67108864",
                "index objectClass eq",
                "index uid,cn,memberUid eq",
                "index member eq",
                # Nobody reads passwords; binds may compare them. Everything else is readable,
                # also anonymously (for the anonymous-search tests).
                "access to attrs=userPassword",
                "  by self write",
                "  by anonymous auth",
                "  by * none",
                "access to *",
                "  by * read",
                *overlays,
                "",
            ]
        )

    def _load(self) -> None:
        self.db_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text())
        people = self.workdir / "people.ldif"
        people.write_text(self._people_ldif)
        self._run([self.slapadd, "-q", "-f", str(self.config_path), "-l", str(people)])

    def _run(self, args: list[str], *, stdin: str | None = None) -> str:
        result = subprocess.run(
            args,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:1])} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    # -- process ----------------------------------------------------------------------------
    def start(self) -> Slapd:
        """Start slapd; the first start also loads the people and adds the groups."""
        if self.running():
            raise RuntimeError(f"slapd already running as PID {self.pid}")
        first = not self._loaded
        if first:
            self._load()
        args = [
            self.slapd,
            "-d",
            "256",
            "-h",
            f"{self.url}/ {self.ldaps_url}/",
            "-f",
            str(self.config_path),
        ]
        self._process = ManagedProcess(args, log_path=self.log_path, cwd=self.workdir)
        try:
            self._process.wait_ready(
                lambda: port_open(self.port) and port_open(self.tls_port),
                timeout=self.startup_timeout,
            )
            if first:
                self.modify(self._groups_ldif, add=True)
                self.modify(_CLOSE_CYCLE_LDIF)
                self._loaded = True
        except BaseException:
            self._process.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def restart(self) -> Slapd:
        """Stop, then start again on the same ports with the same data."""
        self.stop()
        self._process = None
        return self.start()

    def destroy(self) -> None:
        self.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Slapd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroy()

    # -- changing the directory ---------------------------------------------------------------
    def modify(self, ldif: str, *, add: bool = False) -> None:
        """``ldapmodify`` (``-a``: add entries) as the root DN over the plain port."""
        args = [
            self.ldapmodify_binary,
            "-x",
            "-H",
            self.url,
            "-D",
            ROOT_DN,
            "-w",
            ROOT_PASSWORD,
        ]
        if add:
            args.append("-a")
        self._run(args, stdin=ldif)

    def remove_member(self, group_cn: str, member_dn: str) -> None:
        self.modify(
            f"dn: {group_dn(group_cn)}\nchangetype: modify\ndelete: member\nmember: {member_dn}\n"
        )

    def add_member(self, group_cn: str, member_dn: str) -> None:
        self.modify(
            f"dn: {group_dn(group_cn)}\nchangetype: modify\nadd: member\nmember: {member_dn}\n"
        )


_SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


TlsMode = Literal["plain", "ldaps", "starttls"]
TLS_MODES: tuple[TlsMode, ...] = ("plain", "ldaps", "starttls")


def directory_config(
    server: Slapd,
    *,
    mode: TlsMode = "plain",
    user_search: UserSearch | None = None,
    group_search: GroupSearch | None = None,
    **changes: Any,
) -> LdapConfig:
    """An LdapConfig for ``server``'s test directory: service bind, people under
    ou=people, groups by ``member`` (DN) and ``memberUid`` (uid), nested, memberOf when the
    overlay is there, ``dockit-admins`` as the admin group; ``changes`` override fields."""
    config = LdapConfig(
        urls=(server.ldaps_url if mode == "ldaps" else server.url,),
        start_tls=mode == "starttls",
        ca_file=server.pki.ca_file,
        bind_dn=SERVICE_DN,
        bind_password=Secret(SERVICE_PASSWORD),
        user_search=user_search
        or UserSearch(base_dn=PEOPLE_DN, filter="(objectClass=inetOrgPerson)"),
        group_search=group_search
        or GroupSearch(
            base_dn=GROUPS_DN,
            user_matchers=(UserMatcher("DN", "member"), UserMatcher("uid", "memberUid")),
            member_of_attribute="memberOf" if server.memberof else None,
            nested=True,
        ),
        admin_group="dockit-admins",
        connect_timeout=2.0,
        receive_timeout=5,
    )
    return replace(config, **changes)


def require_memberof(slapd: Slapd) -> None:
    """Debian's slapd ships the memberof overlay; under CI its absence is a failure."""
    if not slapd.memberof:
        message = "this slapd has no memberof overlay"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
