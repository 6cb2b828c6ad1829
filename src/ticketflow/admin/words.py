"""The words the back office shows for the states stored in the tables.

The tables keep codes (`pending`, `wrong_gate`, ...); lists, badges and filters show these words,
translated into the reader's language where they are shown. A code missing here is shown as stored.
"""

from __future__ import annotations

from ticketflow.lib.i18n import N_, LazyText, current_language, gettext_for

REFUSAL_WORDS = {
    "already_used": N_("already used"),
    "unknown": N_("unknown code"),
    "cancelled": N_("cancelled"),
    "unpaid": N_("unpaid"),
    "wrong_event": N_("wrong event"),
    "event_cancelled": N_("event cancelled"),
    "wrong_gate": N_("wrong gate"),
    "transferred": N_("transferred"),
    "refused_offline": N_("refused offline"),
}
"""Why a scan was refused, in the organiser's words."""
RESULT_WORDS = {
    "valid": N_("admitted"),
    "already_used": N_("already used"),
    "invalid": N_("refused"),
    "exited": N_("left"),
    "reverted": N_("admission undone"),
    "duplicate_admission": N_("admitted again (offline)"),
}
"""What a scan did."""
STATE_WORDS = {
    # accounts
    "attendee": N_("attendee"),
    "staff": N_("door staff"),
    "admin": N_("administrator"),
    # events, orders, tickets
    "scheduled": N_("scheduled"),
    "cancelled": N_("cancelled"),
    "pending": N_("pending"),
    "paid": N_("paid"),
    "expired": N_("expired"),
    "refunded": N_("refunded"),
    "active": N_("active"),
    "used": N_("used"),
    # e-mails: states and kinds
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
    "tickets": N_("tickets"),
    "ticket_cancelled": N_("ticket cancelled"),
    "event_cancelled": N_("event cancelled"),
    "event_changed": N_("event changed"),
    "ticket_transferred": N_("ticket transferred"),
    "ticket_received": N_("ticket received"),
    # payments and refunds
    "accepted": N_("accepted"),
    "refused": N_("declined"),  # a payment ("refused" names refused scans)
    "duplicate": N_("duplicate"),
    "late": N_("late"),
    "order_closed": N_("order closed"),
    "amount_mismatch": N_("amount mismatch"),
    "succeeded": N_("succeeded"),
    "payment_refused": N_("payment refused"),
    "tickets_gone": N_("tickets gone"),
}
"""Every other state code of the tables shown in the back office."""


def state_word(code: str, words: dict[str, str] = STATE_WORDS) -> str:
    """The word for `code` in the reader's language (the code itself when it has none)."""
    word = words.get(code)
    return gettext_for(current_language())(word) if word is not None else code


class OptionLabel(LazyText):
    """A filter's option: the word of a code, translated when shown, with a capital first letter."""

    __slots__ = ()

    def __str__(self) -> str:
        word = super().__str__()
        return word[:1].upper() + word[1:]
