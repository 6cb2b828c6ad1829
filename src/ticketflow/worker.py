"""The background worker: runs every context's jobs in a loop until stopped.

Each job is one pass (`BackgroundJob`): it claims a batch of work, does it, and returns how many
items it handled. The loop runs the passes back to back while there is work and sleeps
`WORKER_POLL_SECONDS` when all of them are idle. Several workers may run at once (jobs claim
their rows safely), in separate processes or hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ticketflow.lib.plugins import BackgroundJob
from ticketflow.lib.state import AppContext

logger = logging.getLogger("ticketflow.worker")


async def run_jobs_once(context: AppContext, jobs: list[tuple[str, BackgroundJob]]) -> int:
    """One pass of every job; a failing job is logged and does not stop the others."""
    handled = 0
    for name, job in jobs:
        try:
            handled += await job(context)
        except Exception:
            logger.exception("background job %s failed", name)
    return handled


async def run_worker(context: AppContext, jobs: list[tuple[str, BackgroundJob]], stop: asyncio.Event) -> None:
    """Run `jobs` until `stop` is set; finishes the pass in progress first (graceful)."""
    logger.info("worker started with jobs: %s", ", ".join(name for name, _ in jobs) or "none")
    while not stop.is_set():
        handled = await run_jobs_once(context, jobs)
        if handled:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=context.settings.worker_poll_seconds)
    logger.info("worker stopped")
