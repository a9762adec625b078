"""Dockit's benchmarks (``python3 -m bench``; see README.md, Benchmarks).

What the bench measures in process counts metrics as a gunicorn worker does: prometheus_client
decides at import whether its values are memory-mapped files shared by the workers or plain
numbers, so the bench points it at a multiprocess directory of its own before anything
imports it (servers it starts make their own, as ``dockit api-server`` always does).
"""

from __future__ import annotations

import atexit
import os

from dockit_server.multiproc import MULTIPROC_ENV, remove_metrics_dir, use_fresh_metrics_dir

if not os.environ.get(MULTIPROC_ENV):
    atexit.register(remove_metrics_dir, use_fresh_metrics_dir())
