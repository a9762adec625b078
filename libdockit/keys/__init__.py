"""Signing keys: ``material`` (generate, load and serialise keys and their certificates, the
libtrust key id), ``crypt`` (private keys encrypted at rest), ``files`` (bring your own key,
re-read when the files change), ``ring`` (the keys a process signs with and publishes) and
``manager`` (creating, activating and retiring keys).
"""
