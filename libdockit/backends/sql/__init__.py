"""The SQL store: SQLite and PostgreSQL through peewee, one :class:`SqlBackend` implementing
every store contract of :mod:`libdockit.backends.base`.

``backend`` assembles the parts: ``database`` opens and pools connections (``wait`` bounds
PostgreSQL calls), ``session`` holds one connection per request, ``models`` and
``migrations`` are the schema and its versions, and each of ``users``, ``grants``,
``refresh_tokens``, ``throttle``, ``audit`` and ``cache`` is one store's SQL.
"""

from .backend import SqlBackend

__all__ = ["SqlBackend"]
