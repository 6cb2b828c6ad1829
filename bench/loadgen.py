"""A small HTTP/1.1 keep-alive load generator (asyncio streams), cheap enough to share the machine.

Each client holds one connection and sends its requests one after another, as a door scanner or
a buyer's browser would. Latency is measured per request from send to full response.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Request = tuple[str, str, dict[str, str], bytes]
"""(method, path, headers, body)"""


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    bodies: list[bytes] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] * 1000

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, float | int | str]:
        return {
            "requests": len(self.latencies),
            "req_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(0.50), 2),
            "p95_ms": round(self.percentile(0.95), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else 0,
            "errors": self.errors,
            "statuses": dict(sorted(self.statuses.items())),
        }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


def _encode(host: str, request: Request) -> bytes:
    method, path, headers, body = request
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run_load(
    base_url: str,
    requests: Sequence[Request],
    concurrency: int,
    keep_bodies: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Send every request once, `concurrency` at a time (one connection per client), each client
    taking the next request of one shared queue."""
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    return await _drive(base_url, [queue] * concurrency, keep_bodies, on_progress)


async def run_lanes(base_url: str, lanes: Sequence[Sequence[Request]]) -> LoadResult:
    """One client a lane, each sending its own lane's requests one after another: a door device
    scans one code after another, so no two of its scans are ever in flight at once."""
    queues: list[asyncio.Queue[Request]] = []
    for lane in lanes:
        queue: asyncio.Queue[Request] = asyncio.Queue()
        for request in lane:
            queue.put_nowait(request)
        queues.append(queue)
    return await _drive(base_url, queues, False, None)


async def _drive(
    base_url: str,
    queues: Sequence[asyncio.Queue[Request]],
    keep_bodies: bool,
    on_progress: Callable[[int], None] | None,
) -> LoadResult:
    """One client (one keep-alive connection) a queue, until its queue is empty."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = LoadResult()

    async def client(queue: asyncio.Queue[Request]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                try:
                    request = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    writer.write(_encode(f"{host}:{port}", request))
                    status, body = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] += 1
                if keep_bodies:
                    result.bodies.append(body)
                if status >= 500:
                    result.errors += 1
                if on_progress is not None:
                    on_progress(len(result.latencies))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(queue) for queue in queues))
    result.elapsed = time.perf_counter() - started
    return result
