"""``/metrics`` counts enabled robots and personal access tokens about to expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockit_server.metrics import Metrics
from libdockit.audit import Actor
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.credential_admin import CredentialAdmin, CredentialLimits
from libdockit.errors import BackendUnavailable
from libdockit.model import AccessCredential
from tests.support.promtext import sample_value

NOW = datetime(2026, 5, 1, tzinfo=UTC)
APP = Actor.system("test")
NAME = "dockit_access_credentials_expiring"


def scrape(store: MemoryBackend, now: datetime = NOW) -> str:
    metrics = Metrics(clock=lambda: now)
    metrics.watch_credentials(store)
    return metrics.exposition().decode()


def test_expiring_credentials_by_kind_and_window() -> None:
    store = MemoryBackend()
    store.create_user("alice", "h")
    admin = CredentialAdmin(
        store, limits=CredentialLimits(robot_max_lifetime=None), clock=lambda: NOW
    )
    admin.create_robot("soon", "user:alice", actor=APP, expires=timedelta(days=2))
    admin.create_robot("later", "user:alice", actor=APP, expires=timedelta(days=20))
    admin.create_robot("forever", "user:alice", actor=APP, never=True)
    off, _ = admin.create_robot("off", "user:alice", actor=APP, expires=timedelta(days=1))
    store.set_access_credential_enabled(off.id, False)
    admin.create_token("alice", "laptop", actor=APP, expires=timedelta(days=6))
    admin.create_token("alice", "ci", actor=APP)  # 90 days: counted nowhere
    text = scrape(store)
    assert sample_value(text, NAME, kind="robot", within="7d") == 1
    assert sample_value(text, NAME, kind="robot", within="30d") == 2
    assert sample_value(text, NAME, kind="robot", within="expired") == 0
    assert sample_value(text, NAME, kind="pat", within="7d") == 1
    assert sample_value(text, NAME, kind="pat", within="30d") == 1
    a_week_later = scrape(store, NOW + timedelta(days=7))
    assert sample_value(a_week_later, NAME, kind="robot", within="expired") == 1
    assert sample_value(a_week_later, NAME, kind="pat", within="expired") == 1
    assert sample_value(a_week_later, NAME, kind="robot", within="30d") == 1


class UnavailableStore(MemoryBackend):
    def access_credentials_expiring(self, before: datetime) -> list[AccessCredential]:
        raise BackendUnavailable("down")


def test_a_store_that_cannot_answer_leaves_the_gauge_out() -> None:
    assert f"{NAME}{{" not in scrape(UnavailableStore())
    assert sample_value(scrape(MemoryBackend()), NAME, kind="pat", within="7d") == 0
