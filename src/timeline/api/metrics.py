"""``GET /metrics``: the service's metrics in the Prometheus text format (or OpenMetrics, as
the scraper's ``Accept`` header asks), via ``prometheus-client``. Every metric, its labels and
meaning: docs/operations.md.

A scrape gives two kinds of figures:

- read from the store at that moment (:mod:`timeline.status`): the log's position, each
  projection's position, lag in events and seconds, quarantine, rebuild progress — the same
  from every process; and this process's connection pools (``psycopg_pool`` counters);
- counted in this process as things happen (:mod:`timeline.telemetry`): append requests and
  their latency, events appended, group-commit sizes, access-log writes, job runs.

No personal data: counts, positions and times only, so the route needs no token (like
``/health``). ``timeline worker --metrics-port N`` serves the same for the jobs' process
(:func:`serve_metrics`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from wsgiref.simple_server import WSGIServer

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timeline.status import Picture, Services
from timeline.telemetry import Telemetry, current, measuring_append


class StoreCollector:
    """Positions, lag, quarantine and rebuild progress, read from the store at each scrape."""

    def __init__(self, picture: Picture) -> None:
        self.picture = picture

    def collect(self) -> Iterator[Metric]:
        end = self.picture.log_position()
        yield GaugeMetricFamily(
            "timeline_log_position", "Position of the last event in the log.", value=end
        )
        families = {
            "position": GaugeMetricFamily(
                "timeline_projection_position",
                "Log position up to which the projection has applied the log.",
                labels=["projection"],
            ),
            "lag_events": GaugeMetricFamily(
                "timeline_projection_lag_events",
                "Events the projection is behind: the log's position minus the projection's.",
                labels=["projection"],
            ),
            "lag_seconds": GaugeMetricFamily(
                "timeline_projection_lag_seconds",
                "Recorded time of the log's last event minus recorded time of the event at "
                "the projection's position (of the log's first event if it applied none); "
                "0 when caught up.",
                labels=["projection"],
            ),
            "quarantined": GaugeMetricFamily(
                "timeline_projection_quarantined_events",
                "Events the projection could not apply, in its quarantine (timeline quarantine).",
                labels=["projection"],
            ),
            "stale_seekers": GaugeMetricFamily(
                "timeline_projection_stale_seekers",
                "Seekers whose rows in the projection are stale because of quarantined events.",
                labels=["projection"],
            ),
            "unsettled_seekers": GaugeMetricFamily(
                "timeline_projection_unsettled_seekers",
                "Seekers a bulk catch-up loaded whose rows the settle pass has not evaluated "
                "yet (counted up to 100,000); /ready is 503 while any are.",
                labels=["projection"],
            ),
        }
        rebuild = {
            "running": GaugeMetricFamily(
                "timeline_rebuild_running",
                "1 while a rebuild of the projection runs (timeline rebuild, any process).",
                labels=["projection"],
            ),
            "done": GaugeMetricFamily(
                "timeline_rebuild_events_done",
                "Events the last or current rebuild of the projection has read.",
                labels=["projection"],
            ),
            "total": GaugeMetricFamily(
                "timeline_rebuild_events_target",
                "Events the last or current rebuild reads in all (the log's length at its "
                "start, or what it has read if more).",
                labels=["projection"],
            ),
            "updated": GaugeMetricFamily(
                "timeline_rebuild_updated_timestamp_seconds",
                "When the rebuild last reported progress (Unix time); a running rebuild whose "
                "time stops moving was killed.",
                labels=["projection"],
            ),
        }
        for p in self.picture.projections(end):
            for key, family in families.items():
                family.add_metric([p.name], float(getattr(p, key)))
            if p.rebuild is not None:
                r = p.rebuild
                rebuild["running"].add_metric([p.name], float(r.running))
                rebuild["done"].add_metric([p.name], r.done)
                rebuild["total"].add_metric([p.name], r.total)
                rebuild["updated"].add_metric([p.name], _unix(r.updated_at))
        yield from families.values()
        yield from rebuild.values()


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class PoolCollector:
    """The connection pools of one set of services (PostgreSQL; none on SQLite): the side
    database's (``requests`` or ``jobs``) and the event store's (``events`` or
    ``jobs-events``), from ``psycopg_pool``'s counters at each scrape."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def pools(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        side = self.services.db.pool_stats()
        name = self.services.db.pool.name
        if side is not None:
            out[name] = side
        store = getattr(getattr(self.services.app.recorder, "datastore", None), "pool", None)
        get_stats = getattr(store, "get_stats", None)
        if get_stats is not None:
            out["events" if name == "requests" else f"{name}-events"] = dict(get_stats())
        return out

    def collect(self) -> Iterator[Metric]:
        label = ["pool"]
        wait = CounterMetricFamily(
            "timeline_pool_wait_seconds",
            "Time callers waited for a connection of the pool, in all.",
            labels=label,
        )
        requests = CounterMetricFamily(
            "timeline_pool_requests",
            "Connections asked of the pool.",
            labels=label,
        )
        queued = CounterMetricFamily(
            "timeline_pool_queued",
            "Connections asked of the pool that had to wait (none was free at once).",
            labels=label,
        )
        timeouts = CounterMetricFamily(
            "timeline_pool_timeouts",
            "Callers that got no connection within the pool's timeout (answered 503 on the "
            "request pools).",
            labels=label,
        )
        gauges = {
            "requests_waiting": GaugeMetricFamily(
                "timeline_pool_waiting", "Callers waiting for a connection now.", labels=label
            ),
            "pool_size": GaugeMetricFamily(
                "timeline_pool_connections", "Connections the pool holds now.", labels=label
            ),
            "pool_available": GaugeMetricFamily(
                "timeline_pool_available", "Idle connections in the pool now.", labels=label
            ),
            "pool_max": GaugeMetricFamily(
                "timeline_pool_max_connections",
                "The most connections the pool may hold.",
                labels=label,
            ),
        }
        for name, stats in self.pools().items():
            wait.add_metric([name], stats.get("requests_wait_ms", 0) / 1000)
            requests.add_metric([name], stats.get("requests_num", 0))
            queued.add_metric([name], stats.get("requests_queued", 0))
            timeouts.add_metric([name], stats.get("requests_errors", 0))
            for key, family in gauges.items():
                family.add_metric([name], stats.get(key, 0))
        yield from (wait, requests, queued, timeouts, *gauges.values())


def registry_for(services: Services, telemetry: Telemetry | None = None) -> CollectorRegistry:
    """What one process exposes: its counters, its pools, and the picture from the store."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register((telemetry or current()).registry)
    registry.register(PoolCollector(services))
    registry.register(StoreCollector(Picture.of(services)))
    return registry


class AppendMetrics:
    """ASGI middleware measuring ``POST /v1/events``: each request's outcome (from its status,
    and from the route's :meth:`~timeline.telemetry.Telemetry.appended` whether anything was
    new) and its latency, until the answer's last byte is handed to the server."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry, path: str = "/v1/events") -> None:
        self.app = app
        self.telemetry = telemetry
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with measuring_append() as stored:
            try:
                await self.app(scope, receive, answer)
            finally:
                self.telemetry.append_answered(
                    status, any(stored) if stored else None, time.perf_counter() - start
                )


def install_metrics(api: FastAPI, services: Services) -> None:
    """``GET /metrics`` on ``api``, and the append measurements behind it."""
    telemetry = current()
    api.add_middleware(AppendMetrics, telemetry=telemetry)
    api.include_router(metrics_router(registry_for(services, telemetry)))


def metrics_router(registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics",
        summary="Expose the metrics in the Prometheus text format (docs/operations.md lists them).",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus metrics"}},
    )
    def metrics(request: Request) -> Response:
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(registry), media_type=content_type)

    return router


def serve_metrics(services: Services, port: int, addr: str = "127.0.0.1") -> WSGIServer:
    """Serve this process's metrics over ``services`` at ``http://addr:port/metrics`` (any path
    answers) from a daemon thread; return the server (``shutdown()`` stops it)."""
    server, _thread = start_http_server(port, addr, registry=registry_for(services))
    return server
