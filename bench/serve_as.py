"""``python -m bench.serve_as MODEL --bind HOST:PORT --workers N``: ``dockit api-server``
(the same settings from the environment, the same start-up) under another gunicorn worker
class, for the serving-model comparison (:mod:`bench.serving`).

Models: ``dockit`` (the default of ``dockit api-server``: gevent with a read deadline),
``gevent`` (gunicorn's own), ``gthread`` (:data:`GTHREAD_THREADS` threads per worker) and
``sync``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

#: Threads per gthread worker: gunicorn's docs suggest 2-4 per core; this is generous.
GTHREAD_THREADS = 16
MODELS: dict[str, tuple[str, dict[str, object]]] = {
    "dockit": ("dockit_server.worker.DockitWorker", {}),
    "gevent": ("gevent", {}),
    "gthread": ("gthread", {"threads": GTHREAD_THREADS}),
    "sync": ("sync", {}),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_as")
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    # As dockit api-server does: the metrics directory before prometheus_client is imported.
    from dockit_server.multiproc import remove_metrics_dir, use_fresh_metrics_dir

    metrics_dir = use_fresh_metrics_dir()
    try:
        from dockit_server.bootstrap import prepare
        from dockit_server.config import Settings
        from dockit_server.serve import serve

        settings = Settings.load(
            overrides={"server.bind": args.bind, "server.workers": args.workers}
        )
        prepare(settings)
        worker_class, options = MODELS[args.model]
        serve(settings, worker_class=worker_class, options=options)
    finally:
        remove_metrics_dir(metrics_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
