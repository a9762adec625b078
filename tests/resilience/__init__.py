"""Resilience: concurrency on SQLite, faults of PostgreSQL and LDAP, secrets, HTTPS."""
