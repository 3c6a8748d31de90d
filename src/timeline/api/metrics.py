"""``GET /metrics``: the service's metrics in the Prometheus text format (or OpenMetrics, as
the scraper's ``Accept`` header asks), via ``prometheus-client``.

Each scrape reads the projections' views (no counters kept in globals): the log's position,
each projection's position, and what each projection has quarantined. Add a collector here
for more metrics. No personal data: counts and positions only, so the route needs no token
(like ``/health``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from projections.runtime import DatedView
from timeline.application import TimelineApp


class ProjectionsCollector:
    """Positions and quarantine counts, read from the views at each scrape."""

    def __init__(self, app: TimelineApp, views: Mapping[str, DatedView]) -> None:
        self.app = app
        self.views = views

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "timeline_log_position",
            "Position of the last event in the log.",
            value=self.app.recorder.max_notification_id() or 0,
        )
        position = GaugeMetricFamily(
            "timeline_projection_position",
            "Log position up to which the projection has applied the log.",
            labels=["projection"],
        )
        quarantined = GaugeMetricFamily(
            "timeline_projection_quarantined_events",
            "Events the projection could not apply, in its quarantine (timeline quarantine).",
            labels=["projection"],
        )
        stale = GaugeMetricFamily(
            "timeline_projection_stale_seekers",
            "Seekers whose rows in the projection are stale because of quarantined events.",
            labels=["projection"],
        )
        for name, view in self.views.items():
            entries, seekers = view.quarantine_counts()
            position.add_metric([name], view.position())
            quarantined.add_metric([name], entries)
            stale.add_metric([name], seekers)
        yield from (position, quarantined, stale)


def metrics_router(app: TimelineApp, views: Mapping[str, DatedView]) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProjectionsCollector(app, views))
    router = APIRouter()

    @router.get(
        "/metrics",
        summary="Expose the metrics in the Prometheus text format.",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus metrics"}},
    )
    def metrics(request: Request) -> Response:
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(registry), media_type=content_type)

    return router
