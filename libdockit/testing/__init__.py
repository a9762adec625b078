"""Helpers for tests of libdockit and of applications embedding it."""
