"""Trust policies over SQL: the TrustPolicyStore of
:class:`~libdockit.backends.sql.SqlBackend`.

One row per policy, its JSON document beside the name and issuer. Every write steps the
policy version (:meth:`~.session.SqlSession._policy_write`), the number the token path's
caches of groups and grants are checked against, so each process's cache of the policies
(:class:`libdockit.federation.stored.StoredFederation`) sees a change on its next
federated login.
"""

from __future__ import annotations

import json

import peewee as pw

from ...errors import BackendUnavailable, Conflict, NotFound, ValidationError
from ...federation.trust import TrustPolicy, policy_document, policy_from_document
from ...model import Page
from .models import TrustPolicyRow
from .session import SqlSession


def _values(policy: TrustPolicy) -> dict[str, object]:
    document = json.dumps(policy_document(policy), sort_keys=True, separators=(",", ":"))
    return {"name": policy.name, "issuer": policy.issuer, "document": document}


def _record(row: TrustPolicyRow) -> TrustPolicy:
    try:
        return policy_from_document(json.loads(row.document))
    except (ValueError, ValidationError) as error:  # written by hand, or by a newer Dockit
        raise BackendUnavailable(
            f"trust policy {row.name!r} is stored unreadable: {error}"
        ) from None


class SqlTrustPolicies(SqlSession):
    """TrustPolicyStore."""

    def add_trust_policy(self, policy: TrustPolicy) -> TrustPolicy:
        with self._policy_write() as db:
            if TrustPolicyRow.select().where(TrustPolicyRow.name == policy.name).exists(db):
                raise Conflict(f"trust policy {policy.name!r} exists already")
            TrustPolicyRow.insert(**_values(policy)).execute(db)
        return policy

    def get_trust_policy(self, name: str) -> TrustPolicy:
        with self._session() as db:
            return self._policy(db, name)

    def _policy(self, db: pw.Database, name: str) -> TrustPolicy:
        row = TrustPolicyRow.select().where(TrustPolicyRow.name == name).get_or_none(db)
        if row is None:
            raise NotFound(f"trust policy {name!r} not found")
        return _record(row)

    def list_trust_policies(self, *, offset: int = 0, limit: int = 100) -> Page[TrustPolicy]:
        with self._session() as db:
            total = TrustPolicyRow.select().count(db)
            rows = (
                TrustPolicyRow.select()
                .order_by(self._by_name(TrustPolicyRow.name))
                .offset(max(offset, 0))
                .limit(max(limit, 0))
                .bind(db)
            )
            return Page([_record(row) for row in rows], total)

    def replace_trust_policy(self, policy: TrustPolicy) -> TrustPolicy:
        with self._policy_write() as db:
            values = _values(policy)
            del values["name"]
            query = TrustPolicyRow.update(**values).where(TrustPolicyRow.name == policy.name)
            if not query.execute(db):
                raise NotFound(f"trust policy {policy.name!r} not found")
        return policy

    def delete_trust_policy(self, name: str) -> TrustPolicy:
        with self._policy_write() as db:
            policy = self._policy(db, name)
            if not TrustPolicyRow.delete().where(TrustPolicyRow.name == name).execute(db):
                raise NotFound(f"trust policy {name!r} not found")
            return policy

    def trust_policy_version(self) -> int | None:
        return self._read_policy_version()
