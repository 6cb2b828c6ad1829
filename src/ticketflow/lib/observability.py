"""Request ids, structured logs and Prometheus metrics.

* Every HTTP request gets an id: the caller's `X-Request-ID` when it is sane, else a new one (32
  hex digits: a random prefix per process and a counter, unique without a system call). It
  is echoed in the response header and attached to every log line written while the request
  runs (a context variable read by a logging filter).
* `LOG_JSON=1` turns every log line (application, Litestar, uvicorn, alembic) into one JSON
  object; otherwise lines are plain text with the request id in brackets.
* `GET /metrics` serves Prometheus metrics: request counts and latencies by route template,
  method and status, and business figures (tickets, scans, outbox) counted in the database at
  scrape time, so every process reports the same numbers and the services need no counters.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import itertools
import json
import logging
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from litestar import Request, Response, get
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.logging import LoggingConfig
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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from ticketflow.db.base import utc_now
from ticketflow.db.models.checkins import CheckIn, ScanResult
from ticketflow.db.models.outbox import OutboxMessage, OutboxStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.settings import Settings

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

    from ticketflow.extensions import Extensions
    from ticketflow.lib.state import AppContext

REQUEST_ID_HEADER = "X-Request-ID"
NO_REQUEST_ID = "-"
METRICS_MEDIA_TYPE = CONTENT_TYPE_LATEST.split("; charset")[0]
"""Prometheus' text format (Litestar adds the charset itself)."""
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""Set (by `deploy/start.py`) when uvicorn runs several worker processes: metrics are then
kept in files in that folder and `/metrics` adds up every process's figures."""

_request_id: ContextVar[str | None] = ContextVar("ticketflow_request_id", default=None)
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")

MetricFamily = TypeVar("MetricFamily", GaugeMetricFamily, CounterMetricFamily)

access_logger = logging.getLogger("ticketflow.access")
logger = logging.getLogger("ticketflow.observability")


# --- request ids and log lines -----------------------------------------------------------------


def current_request_id() -> str | None:
    """The id of the request being served, or None outside a request."""
    return _request_id.get()


class RequestIds:
    """New request ids: this process's random 64-bit prefix, then a 64-bit counter, in hex."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(secrets.randbelow(2**32))

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def sane_request_id(value: str | None) -> str | None:
    """`value` when it is safe to log and echo (1-128 plain characters), else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (`-` outside a request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or NO_REQUEST_ID
        return True


_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, process id, request id, extra fields
    and the error's traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        request_id = getattr(record, "request_id", NO_REQUEST_ID)
        if request_id != NO_REQUEST_ID:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def _formatter(settings: Settings) -> dict[str, Any]:
    if settings.log_json:
        return {"()": f"{__name__}.JsonFormatter"}
    return {"format": TEXT_FORMAT}


def _server_loggers(level: str) -> dict[str, dict[str, Any]]:
    """uvicorn's loggers through our handler; its access log is replaced by `ticketflow.access`."""
    return {
        "uvicorn": {"level": level, "propagate": True, "handlers": []},
        "uvicorn.error": {"level": level, "propagate": True, "handlers": []},
        "uvicorn.access": {"level": "WARNING", "propagate": True, "handlers": []},
    }


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Lines formatted by the caller, written to the stream by a background thread in batches.

    A busy server logs a line per request. Handing each record to a writer thread (a queue
    handler) costs the event loop a thread wake-up per line; here the caller only appends the
    finished line to a deque, and the writer wakes every `interval` seconds to write whatever
    piled up with one call. The event loop never blocks on a slow log consumer. Lines are at most
    `interval` late; `flush()` (called at shutdown by `logging`) writes what is left.
    """

    def __init__(self, stream: Any = None, interval: float = 0.02) -> None:
        super().__init__(stream)
        self._lines: deque[str] = deque()
        self._writing = threading.Lock()
        """Held while writing; never the handler's own lock, which `emit` callers take."""
        self._interval = interval
        self._closed = threading.Event()
        self._writer = threading.Thread(
            target=self._write_until_closed, name="ticketflow-log-writer", daemon=True
        )
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write every line queued so far, in order (one flush at a time takes lines)."""
        if not self._lines:
            return
        with self._writing:
            batch = []
            while self._lines:
                batch.append(self._lines.popleft())
            if batch:
                self.stream.write("".join(batch))
                self.stream.flush()

    def close(self) -> None:
        """Stop the writer after writing what is left (logging calls this at exit and when the
        configuration is replaced)."""
        self._closed.set()
        self.flush()
        super().close()

    def _write_until_closed(self) -> None:
        while not self._closed.wait(self._interval):
            with contextlib.suppress(Exception):  # a closed or broken stream must not stop the writer
                self.flush()


def build_logging_config(settings: Settings) -> LoggingConfig:
    """The application's logging: JSON or text lines, each with the request id, on stderr."""
    handlers: dict[str, dict[str, Any]] = {
        # Litestar expects a handler of this name; ours replaces its queue handler and listener.
        "queue_listener": {
            "()": f"{__name__}.BatchingStreamHandler",
            "level": "DEBUG",
            "formatter": "ticketflow",
            "filters": ["request_id"],
        },
    }
    return LoggingConfig(
        formatters={"ticketflow": _formatter(settings)},
        filters={"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        handlers=handlers,
        root={"level": settings.log_level, "handlers": ["queue_listener"]},
        loggers={
            "litestar": {"level": settings.log_level, "handlers": ["queue_listener"], "propagate": False},
            **_server_loggers(settings.log_level),
        },
        # Expected errors (4xx) are answers, not incidents; unexpected ones are logged with
        # their stack trace by `unexpected_error_handler`.
        log_exceptions="never",
    )


def process_logging_config(settings: Settings) -> dict[str, Any]:
    """`logging.config.dictConfig` form of the same lines, for processes without the app.

    `deploy/start.py` gives it to uvicorn (its supervisor process logs before any app exists)
    and applies it before running the worker.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"ticketflow": _formatter(settings)},
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "ticketflow",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": _server_loggers(settings.log_level),
    }


# --- request metrics ----------------------------------------------------------------------------


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


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no route matched (404, 405): one series, whatever the paths."""


class RequestObservability:
    """Request id, access log line and request metrics for every HTTP request.

    It wraps the whole application (see `create_app`), outside Litestar's own error handling, so
    every answer is counted, logged and carries `X-Request-ID`: unknown paths, wrong methods and
    the authentication's 401s included, as well as the lines written while they are refused.
    """

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.request_ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = next(
            (value.decode("latin-1") for name, value in scope["headers"] if name == b"x-request-id"), None
        )
        request_id = sane_request_id(incoming) or self.request_ids.new()
        token = _request_id.set(request_id)
        # Mounted apps (the back office) rewrite the scope's path: keep what the client asked for.
        method, path = str(scope.get("method", "GET")), scope["path"]
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            self._record(scope, method, path, status, seconds)
            _request_id.reset(token)

    def _record(self, scope: HTTPScope, method: str, path: str, status: int, seconds: float) -> None:
        route = scope.get("path_template") or UNMATCHED_ROUTE
        self.metrics.observe(method, route, status, seconds)
        client = scope.get("client")
        access_logger.info(
            "%s %s %s %.1f ms",
            method,
            path,
            status,
            seconds * 1000,
            extra={
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "client": client[0] if client else None,
            },
        )


# --- business figures ---------------------------------------------------------------------------


class FixedCollector(Collector):
    """Hands out metric families computed beforehand (the registry's `collect` is synchronous)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families

    def describe(self) -> Iterable[Metric]:
        return []


async def _count_by(session: AsyncSession, column: InstrumentedAttribute[str]) -> dict[str, int]:
    rows = await session.execute(select(column, func.count()).group_by(column))
    return dict(rows.all())


def _one_sample_each(family: MetricFamily, labels: Iterable[StrEnum], counts: dict[str, int]) -> MetricFamily:
    """A sample for every label value, 0 for those the database has no rows of."""
    for label in labels:
        family.add_metric([label.value], counts.get(label.value, 0))
    return family


async def business_figures(session_maker: async_sessionmaker[AsyncSession]) -> list[Metric]:
    """Tickets, door scans and the e-mail outbox, counted with one aggregate query each."""
    async with session_maker() as session:
        tickets = await _count_by(session, Ticket.status)
        scans = await _count_by(session, CheckIn.result)
        outbox = await _count_by(session, OutboxMessage.status)
        oldest_pending = await session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
        )

    by_status = _one_sample_each(
        GaugeMetricFamily("ticketflow_tickets", "Tickets by status, now.", labels=["status"]),
        TicketStatus,
        tickets,
    )
    sold = GaugeMetricFamily(
        "ticketflow_tickets_sold",
        "Tickets sold and still valid for entry or already used (active + used).",
        value=tickets.get(TicketStatus.ACTIVE, 0) + tickets.get(TicketStatus.USED, 0),
    )
    scanned = _one_sample_each(
        CounterMetricFamily("ticketflow_scans", "Door scans recorded, by result.", labels=["result"]),
        ScanResult,
        scans,
    )
    messages = _one_sample_each(
        GaugeMetricFamily(
            "ticketflow_outbox_messages",
            "E-mails in the outbox by status; pending + sending + failed is the backlog.",
            labels=["status"],
        ),
        OutboxStatus,
        outbox,
    )
    age = 0.0 if oldest_pending is None else max(0.0, (utc_now() - oldest_pending).total_seconds())
    oldest = GaugeMetricFamily(
        "ticketflow_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending e-mail (0 when none): grows when no worker delivers.",
        value=age,
    )
    return [by_status, sold, scanned, messages, oldest]


async def business_exposition(session_maker: async_sessionmaker[AsyncSession]) -> bytes:
    """The business figures in Prometheus text format, and whether the database answered."""
    families: list[Metric] = []
    try:
        families = await business_figures(session_maker)
        up = 1
    except Exception:
        logger.warning("metrics: the database did not answer", exc_info=True)
        up = 0
    families.append(
        GaugeMetricFamily(
            "ticketflow_database_up", "1 when the database answered this scrape's queries.", value=up
        )
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FixedCollector(families))
    return generate_latest(registry)


# --- wiring ----------------------------------------------------------------------------------


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


def observability_extensions(context: AppContext) -> Extensions:
    from ticketflow.extensions import Extensions  # noqa: PLC0415

    metrics = HttpMetrics.create()

    @get(
        "/metrics",
        opt={"exclude_from_auth": True},  # lib/ does not import the accounts context
        security=[{}],
        tags=["Operations"],
        summary="Prometheus metrics",
        description="Requests and latencies, tickets sold, scans by result, e-mail outbox backlog. "
        "Public unless `METRICS_TOKEN` is set; then send it as `Authorization: Bearer <token>`.",
        media_type=METRICS_MEDIA_TYPE,
        responses={401: ResponseSpec(None, description="METRICS_TOKEN is set and was not sent")},
    )
    async def prometheus_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        check_metrics_token(context.settings, request.headers.get("Authorization"))
        body = metrics.exposition() + await business_exposition(context.session_maker)
        return Response(body, media_type=METRICS_MEDIA_TYPE)

    return Extensions(
        route_handlers=[prometheus_metrics],
        outermost=[lambda app: RequestObservability(app, metrics)],
    )
