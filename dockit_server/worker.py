"""Dockit's gunicorn worker: gevent's, with a read deadline on every client connection.

Why gevent (the measurements are in bench/RESULTS.md, "Serving model"): each connection is
a greenlet, so a thousand idle or slow clients cost memory, not workers or threads, and a
login waiting on a hung directory or database waits without holding anything others need;
connections are kept alive between requests, as docker, containerd, skopeo and podman
expect. gunicorn's sync workers serve one connection at a time (two idle connections stall
a two-worker server until the arbiter kills the workers), and its gthread workers give
every connection with a byte to read a thread until its request is in.

What this class adds to gunicorn's gevent worker (nothing else):

* every accepted socket is a :class:`~.read_deadline.DeadlineSocket` with ``keepalive``
  seconds (Dockit's ``server.read_timeout``) as its limit, which also bounds the TLS
  handshake (done here, not in gevent's accept loop, where it had no limit; see
  :func:`lazy_handshake`) and the body, and counts every connection it cuts in
  ``dockit_connections_cut_total``; gunicorn's own timeout around the head is then
  redundant and left out;
* the request's head marks the start of its body, and its answer the start of the wait
  for the next request.

Imported by gunicorn in the master (to find the class) and used in the workers, after
gevent has patched the standard library there.
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from collections.abc import Callable
from typing import Any

from gevent.monkey import MonkeyPatchWarning
from gunicorn.workers.ggevent import GeventWorker

from .read_deadline import REASONS, DeadlineSocket

#: gunicorn's ``worker_class`` for Dockit.
WORKER_CLASS = "dockit_server.worker.DockitWorker"


class DockitWorker(GeventWorker):  # type: ignore[misc]
    def init_process(self) -> None:
        from prometheus_client import Counter

        # Written to the multiprocess directory that /metrics sums (see .metrics); no
        # registry of its own. Every reason is created at 0 so the series exist at once.
        cut = Counter(
            "dockit_connections_cut",
            "Client connections closed because a request did not arrive in time "
            "(server.read_timeout), by reason: idle, slow_head, slow_body, tls_handshake.",
            ["reason"],
            registry=None,
        )
        self._cut_counters = {reason: cut.labels(reason) for reason in REASONS}
        # gevent patches the standard library here, after the master imported ssl (gunicorn
        # needs it) and PyJWT's JWKS client took SSLContext from it; Dockit never uses that
        # client, so gevent's warning about it is noise in every worker's start.
        warnings.filterwarnings(
            "ignore", message="Monkey-patching ssl after ssl", category=MonkeyPatchWarning
        )
        super().init_process()

    def timeout_ctx(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()  # DeadlineSocket bounds the head (and the rest)

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        connection = DeadlineSocket(client, float(self.cfg.keepalive), self._count_cut)
        if hasattr(client, "do_handshake") and not connection.handshake():
            return  # gevent's server closes the socket
        super().handle(listener, connection, addr)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        sock.request_started(req)
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            sock.request_done()

    def _count_cut(self, reason: str) -> None:
        self._cut_counters[reason].inc()


class _HandshakeLater:
    """An SSL context whose sockets leave the handshake to the handler (see below)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context

    def wrap_socket(self, sock: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["do_handshake_on_connect"] = False
        return self._context.wrap_socket(sock, **kwargs)


def lazy_handshake(config: Any, default_factory: Callable[[], ssl.SSLContext]) -> Any:
    """gunicorn's ``ssl_context`` hook: gevent's server would do the handshake in its accept
    loop with no time limit; deferred, :meth:`DockitWorker.handle` does it in time."""
    return _HandshakeLater(default_factory())
