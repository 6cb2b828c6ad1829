"""The application's log handler: lines written in order, in batches, never blocking the caller."""

from __future__ import annotations

import io
import logging
import threading
import time

from ticketflow.lib.logs import BatchingStreamHandler


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("ticketflow.test", logging.INFO, __file__, 1, message, None, None)


class BlockedStream(io.StringIO):
    """A log consumer that stops reading (a full pipe) until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.writes = 0

    def write(self, text: str) -> int:
        self.release.wait(10)
        self.writes += 1
        return super().write(text)


def test_every_line_arrives_in_order_and_many_lines_take_few_writes() -> None:
    stream = BlockedStream()
    stream.release.set()
    handler = BatchingStreamHandler(stream, interval=600)  # the writer does not wake meanwhile
    for number in range(500):
        handler.handle(record(f"line {number}"))
    handler.flush()

    assert stream.getvalue().splitlines() == [f"line {number}" for number in range(500)]
    assert stream.writes == 1  # one batch, not 500 writes
    handler.close()


def test_the_writer_thread_writes_without_being_asked() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=0.01)
    handler.handle(record("on its own"))
    deadline = time.monotonic() + 5
    while "on its own" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "on its own\n"


def test_a_stuck_log_consumer_never_blocks_the_caller() -> None:
    stream = BlockedStream()
    handler = BatchingStreamHandler(stream, interval=0.01)
    handler.handle(record("first"))
    time.sleep(0.1)  # the writer thread is now stuck writing "first"

    started = time.monotonic()
    for number in range(1000):
        handler.handle(record(f"meanwhile {number}"))
    elapsed = time.monotonic() - started

    stream.release.set()
    handler.flush()
    assert elapsed < 1.0  # the caller only appended lines; with the writer stuck, ~10 s would mean waiting
    lines = stream.getvalue().splitlines()
    assert lines[0] == "first"
    assert lines[1:] == [f"meanwhile {number}" for number in range(1000)]


def test_closing_writes_what_is_left_and_stops_the_writer() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=60)  # the writer would not wake by itself
    handler.handle(record("last words"))
    handler.close()
    assert stream.getvalue() == "last words\n"
    handler._writer.join(5)
    assert not handler._writer.is_alive()
