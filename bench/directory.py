"""Scenario 8: LDAP logins against a real slapd (tests/support/slapd.py's test directory).

Dockit is configured through a ``DOCKIT_CONFIG`` TOML file as the README's LDAP section
describes (ldaps with the directory's CA, a service bind, groupOfNames and posixGroup
matchers, nested groups), and ``group:developers`` is granted a repository. ``alice`` is a
directory user in ``developers``.

* warm: the default caches (``password_cache_seconds`` and ``group_cache_seconds``, 60 s
  each): after a worker's first login the password and the groups come from its caches,
  so neither the directory nor argon2 is asked; wrk's rate (ratio to ``/healthz``) and the
  sequential median;
* cold: a second server with every ``ldap.*cache*`` setting at 0, so each login searches
  the user, binds as them and reads their groups: the sequential median;
* the directory alone: libdockit's LdapAuthenticator in this process (ldaps, every cache
  at 0 like the cold server), the sequential median, to tell the directory's share of a
  cold login from Dockit's. Local users are asked first without a dummy argon2id verify
  (the chain spends one only when nobody accepted), so Dockit's share is the token.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from dockit_server.config import Settings
from libdockit.backends.ldap.backend import LdapAuthenticator
from libdockit.secret import Secret
from tests.support.slapd import (
    GROUPS_DN,
    PASSWORDS,
    PEOPLE_DN,
    SERVICE_DN,
    SERVICE_PASSWORD,
    Slapd,
    directory_config,
)

from . import sequential
from .context import Bench, Probe, basic
from .http_scenarios import token_url
from .procs import started
from .results import NOT_AVAILABLE, Row, both_ratios
from .wrk import Load

USER = "alice"
SCOPE = "repository:dev/app:pull"


def ldap_cache_settings() -> list[str]:
    """The LDAP cache settings this Dockit has (``ldap.group_cache_seconds`` and any other)."""
    return [
        f.name.removeprefix("ldap_")
        for f in fields(Settings)
        if f.name.startswith("ldap_") and "cache" in f.name
    ]


def write_config(slapd: Slapd, directory: Path, *, cold: bool) -> Path:
    caches = "".join(f"{name} = 0\n" for name in ldap_cache_settings()) if cold else ""
    config = directory / "dockit.toml"
    config.write_text(
        f"""[ldap]
urls = ["{slapd.ldaps_url}"]
ca_file = "{slapd.pki.ca_file}"
bind_dn = "{SERVICE_DN}"
bind_password = "{SERVICE_PASSWORD}"
{caches}
[ldap.user_search]
base_dn = "{PEOPLE_DN}"
filter = "(objectClass=inetOrgPerson)"
username_attributes = ["uid"]

[ldap.group_search]
base_dn = "{GROUPS_DN}"
user_matchers = [
  {{ user_attribute = "DN", group_attribute = "member" }},
  {{ user_attribute = "uid", group_attribute = "memberUid" }},
]
nested = true
"""
    )
    return config


def directory_alone_ms(slapd: Slapd, count: int) -> float:
    """Median milliseconds of one LdapAuthenticator login with no caches, in this process."""
    caches: dict[str, Any] = dict.fromkeys(ldap_cache_settings(), 0)
    authenticator = LdapAuthenticator(directory_config(slapd, mode="ldaps", **caches))
    password = Secret(PASSWORDS[USER])
    try:
        samples = []
        for _ in range(count + 3):
            started_at = time.perf_counter()
            if authenticator.authenticate(USER, password) is None:
                raise RuntimeError(f"{USER} could not log in to the test directory")
            samples.append(time.perf_counter() - started_at)
    finally:
        authenticator.close()
    return statistics.median(samples[3:]) * 1000


def run(bench: Bench) -> None:
    report = bench.report
    try:
        slapd = Slapd(bench.directory("slapd"))
    except pytest.skip.Exception as exc:  # tests.support's way of saying "not installed"
        report.add(Row("8", "LDAP logins", f"not available: {exc}", status=NOT_AVAILABLE))
        return
    with slapd:
        alone_ms = directory_alone_ms(slapd, bench.options.samples)
        headers = (basic(USER, PASSWORDS[USER]),)
        medians: dict[str, float] = {}
        for mode in ("warm", "cold"):
            directory = bench.directory(f"ldap-{mode}")
            env = {"DOCKIT_CONFIG": str(write_config(slapd, directory, cold=mode == "cold"))}
            with started(directory, workers=bench.options.workers, env=env) as server:
                server.grant("group:developers", "repository:dev/**:pull")
                url = token_url(server, SCOPE)
                sequential.timed(url, headers, count=3)  # first logins of each worker
                samples = sequential.timed(url, headers, count=bench.options.samples)
                medians[mode] = statistics.median(samples) * 1000
                if mode == "warm":
                    probe = Probe("8 LDAP warm", (server,), (Load(url, headers=headers),))
                    measured = bench.measure_both([probe])[0]
    report.add(
        Row(
            "8",
            "LDAP login, warm (default caches)",
            f"{measured.rates()}; sequential median {medians['warm']:.2f} ms",
            ratio=both_ratios(report, measured.new_connection.rate, measured.keepalive.rate),
            target="report",
            cpu=measured.new_connection.cpu_cell(),
        )
    )
    report.add(
        Row(
            "8",
            "LDAP login, cold (caches 0: search+bind+groups)",
            f"sequential median {medians['cold']:.2f} ms",
            ratio=f"{medians['cold'] / medians['warm']:.1f}x warm latency",
            target="report",
        )
    )
    report.add(
        Row(
            "8",
            "LDAP login, directory alone (LdapAuthenticator in process, caches 0)",
            f"median {alone_ms:.2f} ms",
            ratio=f"{alone_ms / medians['cold']:.2f}x cold server latency",
            target="report",
        )
    )
    report.note(
        "LDAP: ldaps to a local slapd; cold = "
        + ", ".join(f"ldap.{name} = 0" for name in ldap_cache_settings())
        + f"; {bench.options.samples} sequential logins each after 3 first ones. Warm: "
        "the password and the groups come from the worker's caches, so neither the "
        "directory nor argon2id is asked. A cold login through the server takes "
        f"{medians['cold'] - alone_ms:.1f} ms more than the directory alone: the token; "
        "local users are asked first, but a name that is not a local user costs no dummy "
        "argon2id verify unless nobody accepts the login (libdockit.backends.chain)."
    )
