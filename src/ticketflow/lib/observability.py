"""Request ids, structured logs and Prometheus metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ticketflow.extensions import Extensions
    from ticketflow.lib.state import AppContext


def observability_extensions(context: AppContext) -> Extensions:
    from ticketflow.extensions import Extensions  # noqa: PLC0415

    return Extensions()
