"""HTTP endpoints of orders: the buyer's orders with their lines, and cancelling a whole order."""

from __future__ import annotations

from typing import Annotated, Any

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.orders import OrderStatus
from ticketflow.db.models.users import User
from ticketflow.domain.accounts.auth import any_role, buyer
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.payments.hooks import Payments
from ticketflow.domain.tickets.controller import to_order_view
from ticketflow.domain.tickets.orders import OrderService
from ticketflow.domain.tickets.schemas import Order, OrderPage
from ticketflow.lib.api_docs import id_parameter
from ticketflow.lib.error_handlers import BAD_INPUT, NO_TOKEN, error_responses
from ticketflow.lib.pagination import page_of, provide_limit_offset

OrderId = Annotated[int, id_parameter("order id")]
ORDER_NOT_FOUND = (404, "no such order, or another user's")


def provide_order_service(
    db_session: NamedDependency[AsyncSession],
    notifier: NamedDependency[Notifier],
    payments: NamedDependency[Payments],
) -> OrderService:
    return OrderService(db_session, notifier, payments)


class OrderController(Controller):
    tags = ["Orders"]
    dependencies = {
        "orders": Provide(provide_order_service, sync_to_thread=False),
        "limit_offset": Provide(provide_limit_offset, sync_to_thread=False),
    }

    @get(
        "/orders",
        guards=[any_role],
        operation_id="listOrders",
        summary="My orders, newest first (admins: everyone's)",
        description="Each order with its lines. Admins may filter by `user_id`; all by event and status.",
        responses=error_responses(BAD_INPUT, NO_TOKEN),
    )
    async def list_orders(
        self,
        request: Request[User, Any, Any],
        orders: NamedDependency[OrderService],
        limit_offset: NamedDependency[LimitOffset],
        event_id: Annotated[int | None, id_parameter("only this event's orders")] = None,
        status: Annotated[OrderStatus | None, Parameter(description="only orders in this state")] = None,
        user_id: Annotated[int | None, id_parameter("admins: only this user's orders")] = None,
    ) -> OrderPage:
        found = await orders.list_orders(
            viewer=request.user, event_id=event_id, status=status, user_id=user_id, limit_offset=limit_offset
        )
        return page_of(found, to_order_view)

    @get(
        "/orders/{order_id:int}",
        guards=[any_role],
        operation_id="getOrder",
        summary="One order with its lines (owner or admin)",
        responses=error_responses(BAD_INPUT, NO_TOKEN, ORDER_NOT_FOUND),
    )
    async def get_order(
        self, request: Request[User, Any, Any], orders: NamedDependency[OrderService], order_id: OrderId
    ) -> Order:
        return to_order_view(await orders.get_order(order_id, request.user))

    @post(
        "/orders/{order_id:int}/cancel",
        guards=[buyer],
        status_code=200,
        operation_id="cancelOrder",
        summary="Cancel a whole order (owner before the event starts, or admin)",
        description=(
            "Every ticket not yet used is cancelled and its seat goes back on sale; a paid order is"
            " refunded for them."
        ),
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            (403, "door staff may not cancel orders"),
            ORDER_NOT_FOUND,
            (409, "the order is already closed, or the event has started"),
        ),
    )
    async def cancel_order(
        self, request: Request[User, Any, Any], orders: NamedDependency[OrderService], order_id: OrderId
    ) -> Order:
        return to_order_view(await orders.cancel_order(order_id, request.user))
