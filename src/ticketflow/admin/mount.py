"""The back office mount (SQLAdmin) and the stats endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ticketflow.extensions import Extensions
    from ticketflow.lib.state import AppContext


def admin_extensions(context: AppContext) -> Extensions:
    from ticketflow.extensions import Extensions  # noqa: PLC0415

    return Extensions()
