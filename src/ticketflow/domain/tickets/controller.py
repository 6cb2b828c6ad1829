"""HTTP endpoints of tickets: purchase, history, QR images, documents, cancellation, transfer,
new codes."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Link
from litestar.params import HeaderParameter, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.events import Event as EventModel
from ticketflow.db.models.orders import Order as OrderModel
from ticketflow.db.models.orders import OrderStatus
from ticketflow.db.models.ticket_types import BASIS_POINTS_PER_PERCENT
from ticketflow.db.models.ticket_types import OrderLine as OrderLineModel
from ticketflow.db.models.tickets import Ticket as TicketModel
from ticketflow.db.models.tickets import TicketStatus, attendee_or_holder, code_to_show
from ticketflow.db.models.users import Role, User
from ticketflow.domain.accounts.auth import Credentials, any_role, buyer
from ticketflow.domain.notifications.compose import printed_ticket
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.payments.hooks import Payments
from ticketflow.domain.tickets.orders import OrderView
from ticketflow.domain.tickets.purchase import PurchaseService, VoucherRefused
from ticketflow.domain.tickets.reissue import (
    REISSUE_WINDOW_SECONDS,
    REISSUES_PER_TICKET,
    CodeReissue,
    reissue_limiter,
)
from ticketflow.domain.tickets.schemas import (
    Order,
    OrderLine,
    Purchase,
    PurchaseRequest,
    Ticket,
    TicketPage,
    TicketTransferRequest,
    TicketUpdate,
)
from ticketflow.domain.tickets.service import HeldTicket, TicketService, TransferTerms, UnknownRecipient
from ticketflow.domain.tickets.statements import LineRecord, OrderRecord, TicketRecord
from ticketflow.domain.tickets.wallet import ENGLISH as PASS_WORDING
from ticketflow.domain.tickets.wallet import MEDIA_TYPE as PKPASS_MEDIA_TYPE
from ticketflow.domain.tickets.wallet import PassTicket, WalletConfig, pass_signer, wallet_pass
from ticketflow.lib.access import ROLE_READ_IN_TRANSACTION_ROUTE
from ticketflow.lib.api_docs import BEARER, binary_answer, id_parameter, links_on
from ticketflow.lib.error_handlers import BAD_INPUT, JSON_BODY_ERRORS, NO_TOKEN, error_responses
from ticketflow.lib.errors import RuleViolation
from ticketflow.lib.i18n import DEFAULT_LOCALE, N_, translated, zone_of
from ticketflow.lib.json_bodies import require_json_body
from ticketflow.lib.pagination import page_of, provide_limit_offset
from ticketflow.lib.qr import render_png, render_svg
from ticketflow.lib.ratelimit import LIMITS_UNAVAILABLE, AttemptLimiter, client_address
from ticketflow.lib.state import AppContext
from ticketflow.lib.ticket_pdf import ENGLISH as PDF_WORDING
from ticketflow.lib.ticket_pdf import PrintedTicket, ticket_pdf
from ticketflow.settings import Settings

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
DOCUMENT_CACHE_CONTROL = "private, no-cache"
"""QR codes, PDF tickets and wallet passes show the ticket's code and attendee, which change (a
transfer, a new code, a new name): always revalidate."""

TICKET_NOT_FOUND = (404, "no such ticket, or another user's")
TICKET_NOT_PAID = (409, "the ticket is not paid yet: it has no code to show until it is")
TICKET_NOT_ADMITTING = (409, "the ticket is not paid yet, or was cancelled: its code admits no one")
DOOR_STAFF = (403, "door staff may not change tickets")

TicketId = Annotated[int, id_parameter("ticket id")]
EventId = Annotated[int, id_parameter("event id")]


def to_ticket(
    ticket: TicketModel | TicketRecord,
    event: EventModel | None = None,
    holder_name: str = "",
    type_name: str | None = None,
) -> Ticket:
    return Ticket(
        id=ticket.id,
        order_id=ticket.order_id,
        user_id=ticket.user_id,
        event_id=ticket.event_id,
        code=code_to_show(ticket.status, ticket.code),
        status=TicketStatus(ticket.status),
        used_at=ticket.used_at,
        created_at=ticket.created_at,
        ticket_type_id=ticket.ticket_type_id,
        ticket_type_name=type_name,
        attendee_name=attendee_or_holder(ticket.attendee_name, holder_name) or None,
        event_title=event.title if event else None,
        event_venue=event.venue if event else None,
        event_starts_at=event.starts_at if event else None,
    )


def to_held_ticket(held: HeldTicket) -> Ticket:
    return to_ticket(held.ticket, held.event, held.holder_name, held.type_name or None)


def to_printed_ticket(held: HeldTicket, locale: str = DEFAULT_LOCALE) -> PrintedTicket:
    ticket = held.ticket
    return printed_ticket(
        ticket_id=ticket.id,
        code=ticket.code,
        order_id=ticket.order_id,
        attendee_name=held.attendee_name,
        event=held.event,
        locale=locale,
        type_name=held.type_name,
    )


def to_pass_ticket(held: HeldTicket, locale: str = DEFAULT_LOCALE) -> PassTicket:
    event = held.event
    return PassTicket(
        printed=to_printed_ticket(held, locale),
        event_id=event.id,
        starts_at_local=event.starts_at.astimezone(zone_of(event.timezone)).isoformat(),
        voided=held.ticket.status in (TicketStatus.CANCELLED, TicketStatus.USED),
    )


def wallet_config(settings: Settings) -> WalletConfig:
    return WalletConfig(
        pass_type_id=settings.wallet_pass_type_id,
        team_id=settings.wallet_team_id,
        organization_name=settings.wallet_organization_name,
        certificate_path=settings.wallet_certificate,
        private_key_path=settings.wallet_private_key,
        private_key_password=settings.wallet_private_key_password,
        wwdr_certificate_path=settings.wallet_wwdr_certificate,
    )


def to_line(line: OrderLineModel | LineRecord) -> OrderLine:
    return OrderLine(
        ticket_type_id=line.ticket_type_id,
        name=line.name,
        quantity=line.quantity,
        unit_price_cents=line.unit_price_cents,
        discount_cents=line.discount_cents,
        tax_rate=line.tax_rate_bp / BASIS_POINTS_PER_PERCENT,
        amount_cents=line.amount_cents,
    )


def to_order(order: OrderModel | OrderRecord, lines: Sequence[OrderLineModel | LineRecord] = ()) -> Order:
    return Order(
        id=order.id,
        user_id=order.user_id,
        event_id=order.event_id,
        quantity=order.quantity,
        amount_cents=order.amount_cents,
        currency=order.currency,
        status=OrderStatus(order.status),
        expires_at=order.expires_at,
        created_at=order.created_at,
        lines=[to_line(line) for line in lines],
        voucher_code=order.voucher_code,
    )


def to_order_view(view: OrderView) -> Order:
    return to_order(view.order, view.lines)


def qr_answer(image: bytes, media_type: str) -> Response[bytes]:
    """A ticket's QR code: its code may change (a transfer, a new code), so always revalidated."""
    return Response(image, media_type=media_type, headers={"Cache-Control": DOCUMENT_CACHE_CONTROL})


def document_answer(document: bytes, media_type: str, disposition: str) -> Response[bytes]:
    """A ticket's PDF or wallet pass: always revalidated (the attendee's name may change)."""
    return Response(
        document,
        media_type=media_type,
        headers={"Content-Disposition": disposition, "Cache-Control": DOCUMENT_CACHE_CONTROL},
    )


VOUCHER_GUESSES_PER_CLIENT = 20
VOUCHER_GUESS_WINDOW_SECONDS = 3600


RECIPIENT_GUESSES_PER_USER = 10
RECIPIENT_GUESS_WINDOW_SECONDS = 3600


def recipient_guesses(context: AppContext) -> AttemptLimiter:
    """Transfers to e-mail addresses nobody registered, per user: 10 an hour, then 429 (the
    answer tells whether an address is registered, so trying many must not be cheap)."""
    return AttemptLimiter(
        context.store, RECIPIENT_GUESSES_PER_USER, RECIPIENT_GUESS_WINDOW_SECONDS, "transfer-recipient"
    )


def voucher_guesses(context: AppContext) -> AttemptLimiter:
    """Unknown voucher codes tried from one client address: 20 an hour, then 429."""
    return AttemptLimiter(
        context.store, VOUCHER_GUESSES_PER_CLIENT, VOUCHER_GUESS_WINDOW_SECONDS, "voucher-client"
    )


def unknown_voucher(error: Exception) -> bool:
    """Whether a purchase failed on a voucher code that does not exist (a wrong guess)."""
    return isinstance(error, VoucherRefused) and error.extra.get("reason") == "unknown_voucher"


def unknown_recipient(error: Exception) -> bool:
    """Whether a transfer failed on an address nobody registered (a wrong guess)."""
    return isinstance(error, UnknownRecipient)


def provide_purchase_service(
    context: NamedDependency[AppContext],
    notifier: NamedDependency[Notifier],
    payments: NamedDependency[Payments],
) -> PurchaseService:
    return PurchaseService(
        context.engine,
        context.drivers,
        notifier,
        payments,
        context.ticket_signer,
        context.settings.reservation_ttl_seconds,
        context.settings.max_held_seats_per_user,
    )


def provide_ticket_service(
    db_session: NamedDependency[AsyncSession],
    notifier: NamedDependency[Notifier],
    payments: NamedDependency[Payments],
    context: NamedDependency[AppContext],
) -> TicketService:
    terms = TransferTerms(context.ticket_signer, context.settings.max_transfers_per_ticket)
    return TicketService(db_session, notifier, payments, terms)


def provide_code_reissue(
    db_session: NamedDependency[AsyncSession],
    notifier: NamedDependency[Notifier],
    context: NamedDependency[AppContext],
) -> CodeReissue:
    return CodeReissue(db_session, notifier, context.ticket_signer, reissue_limiter(context.store))


class TicketController(Controller):
    tags = ["Tickets"]
    dependencies = {"limit_offset": Provide(provide_limit_offset, sync_to_thread=False)}

    @post(
        "/events/{event_id:int}/tickets",
        opt=ROLE_READ_IN_TRANSACTION_ROUTE,  # the buyer's role is read in the purchase (purchase.py)
        security=BEARER,
        dependencies={"purchases": Provide(provide_purchase_service, sync_to_thread=False)},
        before_request=require_json_body,
        operation_id="purchaseTickets",
        operation_class=links_on(
            201,
            getPurchasedTicket=Link(
                operation_id="getTicket",
                parameters={"ticket_id": "$response.body#/tickets/0/id"},
                description="The first ticket of the order",
            ),
            renamePurchasedTicket=Link(
                operation_id="updateTicket", parameters={"ticket_id": "$response.body#/tickets/0/id"}
            ),
            cancelPurchasedTicket=Link(
                operation_id="cancelTicket", parameters={"ticket_id": "$response.body#/tickets/0/id"}
            ),
            validatePurchasedTicket=Link(
                operation_id="validateTicket",
                parameters={"qr_code": "$response.body#/tickets/0/code"},
                description="Scan the first ticket at the door",
            ),
        ),
        responses=error_responses(
            *JSON_BODY_ERRORS,
            NO_TOKEN,
            (403, "door staff do not buy tickets"),
            (404, "event not found"),
            (
                409,
                "not enough left: `extra.available` by ticket type (and `extra.tickets_available` for"
                " `{quantity}`); the event cancelled or started, its or the type's sales not open;"
                " too many unpaid seats held; or the payment provider unavailable",
            ),
            (
                422,
                "a quantity outside 1..max_per_order (the event's or the type's), a type not on sale"
                " or not of this event, `{quantity}` where several types are on sale, both"
                " `quantity` and `items`, an `Idempotency-Key` reused for another purchase, or a"
                " voucher refused (`extra.reason`: unknown_voucher, voucher_expired, voucher_used_up"
                " or voucher_not_applicable)",
            ),
            (429, "too many unknown voucher codes from this address; see the Retry-After header"),
            LIMITS_UNAVAILABLE,
        ),
        summary="Buy tickets (attendee or admin)",
        description=(
            "Creates one order and `quantity` tickets. Never oversells: 409 with"
            " `tickets_available` when not enough are left. Send an `Idempotency-Key` header to"
            " make retries safe: the same key returns the first result and buys nothing more."
        ),
    )
    async def purchase(
        self,
        request: Request[Any, Credentials, Any],
        purchases: NamedDependency[PurchaseService],
        payments: NamedDependency[Payments],
        context: NamedDependency[AppContext],
        event_id: EventId,
        data: JSONBody[PurchaseRequest | None] = None,
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key",
                required=False,
                pattern=IDEMPOTENCY_KEY_PATTERN,
                max_length=64,
            ),
        ] = None,
    ) -> Response[Purchase]:
        chosen = data.items if data is not None and isinstance(data.items, list) else None
        asked = data.quantity if data is not None and isinstance(data.quantity, int) else None
        if chosen is not None and asked is not None:
            raise RuleViolation(N_("send either quantity or items, not both"), field="items")
        quantity = 1 if asked is None else asked
        items = None if chosen is None else [(i.ticket_type_id, i.quantity) for i in chosen]
        voucher_code = None if data is None else data.voucher_code
        client = client_address(request)
        guessing = (  # a wrong code counts, counted before the purchase; past the limit: 429
            voucher_guesses(context).guess(client, unknown_voucher)
            if voucher_code is not None
            else nullcontext()
        )
        async with guessing:
            result = await purchases.purchase(
                items=items,
                voucher_code=voucher_code,
                buyer_id=request.auth.subject,
                event_id=event_id,
                quantity=quantity,
                idempotency_key=idempotency_key,
            )
        payment = None
        if result.order.status == OrderStatus.PENDING:
            payment = await payments.checkout(result.order.id, retryable=idempotency_key is not None)
        type_names = {line.ticket_type_id: line.name for line in result.lines}
        body = Purchase(
            order=to_order(result.order, result.lines),
            tickets=[
                to_ticket(t, holder_name=result.holder_name, type_name=type_names.get(t.ticket_type_id or 0))
                for t in result.tickets
            ],
            payment=payment,
        )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return Response(body, status_code=201, headers=headers)

    @get(
        "/tickets",
        guards=[any_role],
        operation_id="listTickets",
        summary="My tickets (newest first)",
        responses=error_responses(BAD_INPUT, NO_TOKEN),
    )
    async def list_tickets(
        self,
        request: Request[User, Any, Any],
        tickets: NamedDependency[TicketService],
        limit_offset: NamedDependency[LimitOffset],
        event_id: Annotated[int | None, id_parameter("admins: all tickets of this event")] = None,
    ) -> TicketPage:
        found = await tickets.list_tickets(viewer=request.user, event_id=event_id, limit_offset=limit_offset)
        return page_of(found, to_held_ticket)

    @get(
        "/tickets/{ticket_id:int}",
        guards=[any_role],
        operation_id="getTicket",
        summary="One ticket (owner or admin)",
        responses=error_responses(BAD_INPUT, NO_TOKEN, TICKET_NOT_FOUND),
    )
    async def get_ticket(
        self, request: Request[User, Any, Any], tickets: NamedDependency[TicketService], ticket_id: TicketId
    ) -> Ticket:
        return to_held_ticket(await tickets.get_visible(ticket_id, request.user))

    @get(
        "/tickets/{ticket_id:int}/qr.png",
        guards=[any_role],
        operation_id="getTicketQrPng",
        summary="QR code of a ticket (PNG)",
        operation_class=binary_answer("image/png"),
        responses=error_responses(BAD_INPUT, NO_TOKEN, TICKET_NOT_FOUND, TICKET_NOT_ADMITTING),
        media_type="image/png",
    )
    async def qr_png(
        self, request: Request[User, Any, Any], tickets: NamedDependency[TicketService], ticket_id: TicketId
    ) -> Response[bytes]:
        ticket = (await tickets.get_code(ticket_id, request.user)).ticket
        return qr_answer(await render_png(ticket.code), "image/png")

    @get(
        "/tickets/{ticket_id:int}/qr.svg",
        guards=[any_role],
        operation_id="getTicketQrSvg",
        summary="QR code of a ticket (SVG)",
        operation_class=binary_answer("image/svg+xml"),
        responses=error_responses(BAD_INPUT, NO_TOKEN, TICKET_NOT_FOUND, TICKET_NOT_ADMITTING),
        media_type="image/svg+xml",
    )
    async def qr_svg(
        self, request: Request[User, Any, Any], tickets: NamedDependency[TicketService], ticket_id: TicketId
    ) -> Response[bytes]:
        ticket = (await tickets.get_code(ticket_id, request.user)).ticket
        return qr_answer(await render_svg(ticket.code), "image/svg+xml")

    @get(
        "/tickets/{ticket_id:int}/ticket.pdf",
        guards=[any_role],
        summary="Printable ticket (PDF; owner or admin)",
        description=(
            "One A4 page: event, venue, local date and time, attendee, order and the QR code for"
            " the door. 404 for another user's ticket."
        ),
        media_type="application/pdf",
        operation_id="getTicketPdf",
        operation_class=binary_answer("application/pdf"),
        responses=error_responses(BAD_INPUT, NO_TOKEN, TICKET_NOT_FOUND, TICKET_NOT_ADMITTING),
    )
    async def ticket_pdf(
        self, request: Request[User, Any, Any], tickets: NamedDependency[TicketService], ticket_id: TicketId
    ) -> Response[bytes]:
        held = await tickets.get_printable(ticket_id, request.user)
        locale = request.user.locale  # the reader's language (the holder's, or the admin's)
        document = await anyio.to_thread.run_sync(
            ticket_pdf, [to_printed_ticket(held, locale)], translated(PDF_WORDING, locale)
        )
        return document_answer(document, "application/pdf", f'inline; filename="ticket-{ticket_id}.pdf"')

    @get(
        "/tickets/{ticket_id:int}/wallet.pkpass",
        guards=[any_role],
        summary="Apple Wallet pass (owner or admin)",
        description=(
            "A signed event-ticket pass whose barcode is the ticket's QR code, with the event,"
            " venue, start, attendee and order. 404 for another user's ticket; 503 when this server"
            " has no Pass Type ID certificate configured (or cannot load it)."
        ),
        media_type=PKPASS_MEDIA_TYPE,
        operation_id="getTicketWalletPass",
        operation_class=binary_answer(PKPASS_MEDIA_TYPE),
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            TICKET_NOT_FOUND,
            TICKET_NOT_PAID,
            (503, "wallet passes are not configured on this server, or its certificate cannot be loaded"),
        ),
    )
    async def wallet_pass(
        self,
        request: Request[User, Any, Any],
        tickets: NamedDependency[TicketService],
        context: NamedDependency[AppContext],
        ticket_id: TicketId,
    ) -> Response[bytes]:
        held = await tickets.get_pass(ticket_id, request.user)
        signer = await anyio.to_thread.run_sync(pass_signer, wallet_config(context.settings))
        locale = request.user.locale
        archive = await anyio.to_thread.run_sync(
            wallet_pass, to_pass_ticket(held, locale), signer, translated(PASS_WORDING, locale)
        )
        return document_answer(
            archive, PKPASS_MEDIA_TYPE, f'attachment; filename="ticket-{ticket_id}.pkpass"'
        )

    @post(
        "/tickets/{ticket_id:int}/cancel",
        guards=[buyer],
        status_code=200,
        operation_id="cancelTicket",
        summary="Cancel a ticket",
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            (403, "door staff do not cancel tickets"),
            TICKET_NOT_FOUND,
            (409, "the ticket is used or cancelled, or its event has started"),
        ),
    )
    async def cancel(
        self, request: Request[User, Any, Any], tickets: NamedDependency[TicketService], ticket_id: TicketId
    ) -> Ticket:
        return to_held_ticket(await tickets.cancel_ticket(ticket_id, request.user))

    @post(
        "/tickets/{ticket_id:int}/transfer",
        guards=[buyer],
        status_code=200,
        summary="Transfer a ticket to another registered user (owner or admin)",
        description=(
            "The ticket moves to the registered user with `email`, under a new code: every earlier"
            " code answers `invalid`/`transferred` at the door. The attendee becomes the new holder;"
            " both holders get an e-mail in their language. Holders may transfer a ticket before"
            " its event starts, up to MAX_TRANSFERS_PER_TICKET times; admins at any time. The"
            " answer shows the new code only to admins: the giver sees `code` empty. 409 for a used,"
            " cancelled, unpaid or started-event ticket, past the limit, or when the ticket changed"
            " meanwhile; 422 (`extra.reason` `unknown_recipient` or `same_holder`); 429 after"
            " 10 unknown recipients in an hour from one user."
        ),
        operation_id="transferTicket",
        before_request=require_json_body,
        responses=error_responses(
            *JSON_BODY_ERRORS,
            NO_TOKEN,
            (403, "door staff do not transfer tickets"),
            TICKET_NOT_FOUND,
            (409, "used, cancelled, unpaid, event started, limit reached, or changed meanwhile"),
            (422, "no registered user has this e-mail, or that user already holds the ticket"),
            (429, "too many transfers to unknown e-mail addresses; try again later"),
            LIMITS_UNAVAILABLE,
        ),
    )
    async def transfer(
        self,
        request: Request[User, Any, Any],
        tickets: NamedDependency[TicketService],
        context: NamedDependency[AppContext],
        ticket_id: TicketId,
        data: JSONBody[TicketTransferRequest],
    ) -> Ticket:
        # an unknown address counts, counted before the transfer; past the limit: 429
        async with recipient_guesses(context).guess(str(request.user.id), unknown_recipient):
            held = await tickets.transfer_ticket(ticket_id, request.user, data.email)
        shown = to_held_ticket(held)
        if request.user.role != Role.ADMIN:  # the giver must not keep a working code
            shown = msgspec.structs.replace(shown, code="")
        return shown

    @post(
        "/tickets/{ticket_id:int}/reissue",
        guards=[buyer],
        status_code=200,
        dependencies={"codes": Provide(provide_code_reissue, sync_to_thread=False)},
        summary="Give a ticket a new code (owner or admin)",
        description=(
            "For a code that leaked (a screenshot posted online): the ticket keeps its holder,"
            " order, type and attendee and gets a new signed code of the next version. The old"
            " code admits no one from then on (the door answers `invalid`/`unknown`; the scanner"
            " bundle lists its version as revoked). The holder gets the ticket e-mail with the new"
            " QR code and PDF; the answer carries the new `code`. Only an `active` ticket: 409 for"
            " a used, cancelled or unpaid one, or one that changed meanwhile. Holders may ask"
            f" {REISSUES_PER_TICKET} times a day per ticket (then 429), admins without a limit."
        ),
        operation_id="reissueTicket",
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            (403, "door staff do not reissue tickets"),
            TICKET_NOT_FOUND,
            (409, "the ticket is used, cancelled or unpaid, or changed meanwhile"),
            (
                429,
                f"more than {REISSUES_PER_TICKET} new codes for this ticket within"
                f" {REISSUE_WINDOW_SECONDS // 3600} hours; see the Retry-After header",
            ),
            LIMITS_UNAVAILABLE,
        ),
    )
    async def reissue(
        self, request: Request[User, Any, Any], codes: NamedDependency[CodeReissue], ticket_id: TicketId
    ) -> Ticket:
        return to_held_ticket(await codes.reissue_ticket(ticket_id, request.user))

    @patch(
        "/tickets/{ticket_id:int}",
        guards=[buyer],
        summary="Name the ticket's attendee (owner or admin)",
        description=(
            "Sets who attends with this ticket: the door, the PDF and the wallet pass show this"
            " name instead of the holder's. `null` gives the ticket back the holder's name. 409 for"
            " a used or cancelled ticket; 404 for another user's ticket."
        ),
        operation_id="updateTicket",
        before_request=require_json_body,
        responses=error_responses(
            *JSON_BODY_ERRORS,
            NO_TOKEN,
            DOOR_STAFF,
            TICKET_NOT_FOUND,
            (409, "the ticket is used or cancelled"),
        ),
    )
    async def update_ticket(
        self,
        request: Request[User, Any, Any],
        tickets: NamedDependency[TicketService],
        ticket_id: TicketId,
        data: JSONBody[TicketUpdate],
    ) -> Ticket:
        held = await tickets.name_attendee(ticket_id, request.user, data.attendee_name)
        return to_held_ticket(held)
