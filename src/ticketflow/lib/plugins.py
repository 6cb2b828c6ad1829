"""The one way a context plugs into the application: a Litestar plugin with background jobs.

Each context has one plugin (`domain/<context>/plugin.py`). Its `on_app_init` adds the
context's routes, the dependencies it offers the others and anything else the application needs
of it; `background_jobs` lists what the worker runs for it. `ticketflow.plugins` lists them:
`create_app` installs the plugins and the worker (`ticketflow worker`, or the API process with
`WORKER_IN_PROCESS`) runs the jobs of the same plugins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from ticketflow.lib.state import AppContext

BackgroundJob = Callable[[AppContext], Awaitable[int]]
"""One pass of a background job; returns how many items it processed (0 = idle)."""


class ContextPlugin(InitPluginProtocol):
    """A context's routes and dependencies (`on_app_init`) and its jobs (`background_jobs`)."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        return app_config

    def background_jobs(self) -> list[tuple[str, BackgroundJob]]:
        return []
