"""``/metrics``: Prometheus text exposition of every worker's metrics."""

from __future__ import annotations

import falcon

from ..metrics import CONTENT_TYPE, Metrics


class MetricsResource:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE
        resp.data = self._metrics.exposition()
