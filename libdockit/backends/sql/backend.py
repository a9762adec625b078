"""The SQL backend (peewee): SQLite by default, PostgreSQL by URL.

``SqlBackend("sqlite:///relative.db")``, ``SqlBackend("sqlite:////abs/path.db")`` (one slash
after ``sqlite://`` is the separator, as in SQLAlchemy and ``playhouse.db_url``),
``SqlBackend("sqlite:///:memory:")`` or
``SqlBackend("postgresql://user:password@host:5432/dbname?sslmode=require")``. Call
:meth:`SqlBackend.migrate` once (e.g. at start or from the CLI) to create or upgrade the schema.

Connections come from a small per-backend pool and each public method holds one only for its
own duration, so the backend is safe to share between threads. Every write of more than one
statement runs in one transaction (SQLite: ``BEGIN IMMEDIATE``, so writers queue on the busy
timeout instead of failing on a lock upgrade); a single-statement write (recording an audit
event, touching a refresh token) commits on its own. A database that cannot answer raises
:class:`~libdockit.errors.BackendUnavailable`, whose message never contains the password;
so does one whose schema is not this Dockit's version, until it is migrated. A uniqueness
race lost to a concurrent writer is a :class:`~libdockit.errors.Conflict`. An in-memory
SQLite database lives in one connection that threads take turns with.

Layout: :mod:`.sql_database` opens a URL, :mod:`.sql_models` has the tables and row
conversions, :mod:`.sql_migrations` the schema versions, :mod:`.sql_session` the per-call
sessions, and one mixin per concern holds the queries: :mod:`.sql_users`, :mod:`.sql_grants`,
:mod:`.sql_audit`, :mod:`.sql_refresh_tokens`, :mod:`.sql_throttle`,
:mod:`.access_credentials`, :mod:`.trust_policies`.
"""

from __future__ import annotations

from .access_credentials import SqlAccessCredentials
from .audit import SqlAuditLog
from .grants import SqlGrantsAndKeys
from .refresh_tokens import SqlRefreshTokens
from .throttle import SqlLoginFailures
from .trust_policies import SqlTrustPolicies
from .users import SqlUsers


class SqlBackend(
    SqlUsers,
    SqlGrantsAndKeys,
    SqlAuditLog,
    SqlRefreshTokens,
    SqlAccessCredentials,
    SqlTrustPolicies,
    SqlLoginFailures,
):
    """Implements UserStore, GroupSource, GrantStore, KeyMaterialStore, AuditStore,
    RefreshTokenStore, AccessCredentialStore, TrustPolicyStore, LoginFailureStore and
    HealthCheck over SQL."""
