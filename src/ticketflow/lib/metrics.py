"""Prometheus metrics: request counts and latencies, and figures collected at scrape time.

`GET /metrics` serves this process's request metrics (by route template, method and status) or,
when uvicorn runs several worker processes (`PROMETHEUS_MULTIPROC_DIR`), every process's. The
contexts add their own figures with `Metrics.add_collector`: an async function run at each scrape
(the business figures of `domain/stats` count rows in the database, so every process reports
the same numbers and the services keep no counters).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get
from litestar.config.app import AppConfig
from litestar.exceptions import NotAuthorizedException
from litestar.openapi import ResponseSpec
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ticketflow.lib.access import PUBLIC_ROUTE
from ticketflow.lib.plugins import ContextPlugin
from ticketflow.settings import Settings

METRICS_MEDIA_TYPE = CONTENT_TYPE_LATEST.split("; charset")[0]
"""Prometheus' text format (Litestar adds the charset itself)."""
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""Set (by `deploy/start.py`) when uvicorn runs several worker processes: metrics are then
kept in files in that folder and `/metrics` adds up every process's figures."""
UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no route matched (404, 405): one series, whatever the paths."""

ScrapeCollector = Callable[[], Awaitable[list[Metric]]]
"""Figures computed at each scrape (the registry's own `collect` is synchronous)."""


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


class FixedCollector(Collector):
    """Hands out metric families computed beforehand."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families

    def describe(self) -> Iterable[Metric]:
        return []


@dataclass(frozen=True)
class HttpMetrics:
    """Request counters of one application (one registry each, so tests may build many apps)."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    _series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = field(
        default_factory=dict, init=False, repr=False
    )
    """Each label combination's counter and histogram, looked up once."""

    @classmethod
    def create(cls) -> HttpMetrics:
        registry = CollectorRegistry()
        if not multiprocess_directory():
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        labels = ("method", "route", "status")
        return cls(
            registry=registry,
            requests=Counter(
                "ticketflow_http_requests",
                "HTTP requests answered, by method, route template and status code.",
                labels,
                registry=registry,
            ),
            latency=Histogram(
                "ticketflow_http_request_duration_seconds",
                "Time from receiving a request to the end of its response, in seconds.",
                labels,
                registry=registry,
            ),
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            labels = (method, route, str(status))
            series = self._series[key] = (self.requests.labels(*labels), self.latency.labels(*labels))
        series[0].inc()
        series[1].observe(seconds)

    def exposition(self) -> bytes:
        """This process's request metrics, or every process's in multiprocess mode."""
        directory = multiprocess_directory()
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


@dataclass
class Metrics:
    """The application's metrics: its request counters and the collectors the contexts added."""

    http: HttpMetrics = field(default_factory=HttpMetrics.create)
    collectors: list[ScrapeCollector] = field(default_factory=list)

    def add_collector(self, collector: ScrapeCollector) -> None:
        """Run `collector` at every scrape (adding the same one twice keeps one)."""
        if collector not in self.collectors:
            self.collectors.append(collector)

    async def exposition(self) -> bytes:
        families: list[Metric] = []
        for collector in self.collectors:
            families += await collector()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(FixedCollector(families))
        return self.http.exposition() + generate_latest(registry)


def check_metrics_token(settings: Settings, authorization: str | None) -> None:
    """With `METRICS_TOKEN` set, the scraper must present it as a bearer token."""
    if not settings.metrics_token:
        return
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), settings.metrics_token.encode()
    ):
        raise NotAuthorizedException(
            "this endpoint needs the metrics token (METRICS_TOKEN) as a bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


class MetricsPlugin(ContextPlugin):
    """Serves `GET /metrics` (public, or behind `METRICS_TOKEN`)."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings, metrics = self.settings, self.metrics

        @get(
            "/metrics",
            opt=PUBLIC_ROUTE,  # the scraper's own token, checked below
            security=[{}],
            operation_id="getMetrics",
            tags=["Operations"],
            summary="Prometheus metrics",
            description="Requests and latencies, tickets sold, scans by result, e-mail outbox backlog. "
            "Public unless `METRICS_TOKEN` is set; then send it as `Authorization: Bearer <token>`.",
            media_type=METRICS_MEDIA_TYPE,
            responses={401: ResponseSpec(None, description="METRICS_TOKEN is set and was not sent")},
        )
        async def prometheus_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
            check_metrics_token(settings, request.headers.get("Authorization"))
            return Response(await metrics.exposition(), media_type=METRICS_MEDIA_TYPE)

        app_config.route_handlers.append(prometheus_metrics)
        return app_config
