"""How the notifications context plugs into the app (filled in by the e-mail outbox)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketflow.domain.notifications.notifier import Notifier, SilentNotifier

if TYPE_CHECKING:
    from ticketflow.extensions import Extensions
    from ticketflow.lib.state import AppContext


def build_notifier(context: AppContext) -> Notifier:
    return SilentNotifier()


def notification_extensions(context: AppContext) -> Extensions:
    from ticketflow.extensions import Extensions  # noqa: PLC0415

    return Extensions()
