"""Log lines: JSON objects or plain text, written in batches off the event loop.

* `LOG_JSON=1` turns every log line (application, Litestar, uvicorn, alembic) into one JSON
  object; otherwise lines are plain text with the request id in brackets and control characters
  escaped, so nothing a client sends can start a line of its own.
* `BatchingStreamHandler` writes the lines from a background thread: a request only appends its
  finished line.
* `access_path` is what an access line shows of the requested path: the route with its typed
  parameters filled in, never a text parameter such as a ticket code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from litestar.logging import LoggingConfig

from ticketflow.lib.request_ids import NO_REQUEST_ID, RequestIdFilter
from ticketflow.settings import Settings

if TYPE_CHECKING:
    from litestar.types import HTTPScope

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
_TICKET_CODE_LIKE = re.compile(r"tf\d+\.[A-Za-z0-9_-]{16,}")
REDACTED = "{redacted}"


def escape_control_characters(text: str) -> str:
    """`text` with every control character (and line separator) written as `\\xNN`/`\\uNNNN`."""
    return _CONTROL_CHARACTERS.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


def access_path(scope: HTTPScope, requested: str) -> str:
    """The path an access line shows: the matched route's template with its typed parameters
    (numbers, file paths) filled in and its text parameters, such as ticket codes, left as
    placeholders; for a mounted app or an unmatched path the requested path, with anything
    shaped like a ticket code redacted."""
    template = scope.get("path_template")
    handler = scope.get("route_handler")
    if not template or getattr(handler, "is_mount", False):
        return _TICKET_CODE_LIKE.sub(REDACTED, requested)
    values = scope.get("path_params") or {}

    def fill(found: re.Match[str]) -> str:
        value = values.get(found.group(1))
        return found.group() if value is None or isinstance(value, str) else str(value)

    return _PARAMETER.sub(fill, template)


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


_REQUEST_ID_FILTER = f"{RequestIdFilter.__module__}.{RequestIdFilter.__qualname__}"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class TextFormatter(logging.Formatter):
    """Plain lines whose message cannot span lines: control characters in it are escaped (a
    `%0A` in a requested path cannot forge a second line). The traceback follows as usual."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_control_characters(record.message)
        return super().formatMessage(record)


def _formatter(settings: Settings) -> dict[str, Any]:
    if settings.log_json:
        return {"()": f"{__name__}.JsonFormatter"}
    return {"()": f"{__name__}.TextFormatter", "fmt": TEXT_FORMAT}


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
        self._stopping = threading.Event()
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
        self._stopping.set()
        self.flush()
        super().close()

    def _write_until_closed(self) -> None:
        while not self._stopping.wait(self._interval):
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
        filters={"request_id": {"()": _REQUEST_ID_FILTER}},
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
        "filters": {"request_id": {"()": _REQUEST_ID_FILTER}},
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
