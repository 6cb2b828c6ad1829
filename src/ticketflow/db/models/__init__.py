"""All tables; importing this package registers every model on `Base.metadata`."""

from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import Gate, GateCounter, Scanner, ScannerSync
from ticketflow.db.models.orders import Order
from ticketflow.db.models.outbox import OutboxMessage  # noqa: F401
from ticketflow.db.models.payments import Checkout, Payment, ProviderEvent, Refund  # noqa: F401
from ticketflow.db.models.ticket_types import OrderLine, TicketType
from ticketflow.db.models.tickets import ReplacedCode, Ticket, TicketTransfer
from ticketflow.db.models.users import User
from ticketflow.db.models.vouchers import Voucher

__all__ = [
    "CheckIn",
    "Event",
    "Gate",
    "GateCounter",
    "Order",
    "OrderLine",
    "ReplacedCode",
    "Scanner",
    "ScannerSync",
    "Ticket",
    "TicketTransfer",
    "TicketType",
    "User",
    "Voucher",
]
