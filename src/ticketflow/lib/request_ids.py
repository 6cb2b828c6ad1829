"""Request ids: every HTTP request gets one, echoed in `X-Request-ID` and attached to its log lines.

The id is the caller's `X-Request-ID` when it is sane, else a new one (32 hex digits: a random
prefix per process and a counter, unique without a system call). It lives in a context variable
while the request runs; `RequestIdFilter` copies it into every log record written meanwhile.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
NO_REQUEST_ID = "-"

_request_id: ContextVar[str | None] = ContextVar("ticketflow_request_id", default=None)
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")


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


@contextmanager
def serving(request_id: str) -> Iterator[None]:
    """Log lines written inside the block carry `request_id`."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (`-` outside a request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or NO_REQUEST_ID
        return True
