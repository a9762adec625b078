"""Hardening: bad input against the real server, property tests, schemathesis (issue 7)."""
