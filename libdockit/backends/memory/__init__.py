"""The in-memory store: :class:`MemoryBackend`, every store contract in one process (tests,
examples, and apps that keep their own state); ``audit`` and ``throttle`` are its parts.
"""

from .backend import MemoryBackend

__all__ = ["MemoryBackend"]
