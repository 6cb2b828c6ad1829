"""A small local Stripe: the API calls Ticket-Flow makes, in Stripe's wire format, and its webhooks.

It listens on loopback and answers like api.stripe.com: form-encoded requests with bracketed keys
(`line_items[0][price_data][unit_amount]=2500`), a bearer secret key, `Idempotency-Key` replays
(the first answer to a key that began executing, a 500 included, is replayed to every retry with
`Idempotent-Replayed: true`; the same key with other parameters is a 400 `idempotency_error`), JSON
objects and Stripe's error body. It keeps sessions, payment intents and refunds, and builds the
events Stripe would send (`checkout.session.completed`, ...), which the tests sign exactly as
Stripe does: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

SECRET_KEY = "sk_test_ticketflow_fake_key"
WEBHOOK_SECRET = "whsec_ticketflow_fake_secret"
IDEMPOTENCY_MISMATCH = "Keys for idempotent requests can only be used with the same parameters"
MIN_SESSION_SECONDS = 30 * 60
MAX_SESSION_SECONDS = 24 * 60 * 60


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=x`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = None if last else parts[index + 1]
            container: Any = [] if following is not None and following.isdigit() else {}
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if last:
                    node[position] = value
                else:
                    node[position] = node[position] if node[position] is not None else container
                    node = node[position]
            elif last:
                node[part] = value
            else:
                node = node.setdefault(part, container)
    return root


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends with `payload`."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def stripe_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


class StripeFailure(Exception):
    def __init__(self, status: int, kind: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": kind, "message": message, **({"param": param} if param else {})}}


@dataclass
class FakeStripe:
    base_url: str = ""
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    idempotent: dict[str, tuple[dict[str, Any], int, dict[str, Any]]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    """Path -> how many of the next calls answer 500 (Stripe having a bad day; kept for the key)."""
    failures_after_work: dict[str, int] = field(default_factory=dict)
    """Path -> how many of the next calls are carried out and still answer 500 (kept for the key)."""
    down: bool = False
    """Unreachable: every connection is dropped without an answer."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the API ------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, bool]:
        """Status, body, and whether the answer is a replay of the first one given to its key."""
        with self.lock:
            self.requests.append((method, path, params, headers))
            if headers.get("authorization") != f"Bearer {SECRET_KEY}":
                return (
                    401,
                    {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}},
                    False,
                )
            key = headers.get("idempotency-key") if method == "POST" else None
            if key is not None and key in self.idempotent:
                first_params, status, body = self.idempotent[key]
                if first_params != params:
                    return (
                        400,
                        {"error": {"type": "idempotency_error", "message": IDEMPOTENCY_MISMATCH}},
                        False,
                    )
                return status, body, True
            try:
                if self.failures.get(path, 0) > 0:
                    self.failures[path] -= 1
                    raise StripeFailure(500, "api_error", "Something went wrong on Stripe's end.")
                status, body = 200, self._route(method, path, params)
                if self.failures_after_work.get(path, 0) > 0:
                    self.failures_after_work[path] -= 1
                    raise StripeFailure(500, "api_error", "Something went wrong on Stripe's end.")
            except StripeFailure as failure:
                status, body = failure.status, failure.body
            # as Stripe: the answer of a request that began executing is kept for its key (a 500
            # too); one refused by validation is not
            if key is not None and (status == 200 or status >= 500):
                self.idempotent[key] = (params, status, body)
            return status, body, False

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._create_session(params)
        if method == "POST" and path == "/v1/refunds":
            return self._create_refund(params)
        if method == "GET" and path == "/v1/refunds":
            intent = params.get("payment_intent")
            found = [r for r in self.refunds.values() if intent is None or r["payment_intent"] == intent]
            limit = int(params.get("limit", 10))
            return {
                "object": "list",
                "url": "/v1/refunds",
                "has_more": len(found) > limit,
                "data": sorted(found, key=lambda r: r["created"], reverse=True)[:limit],
            }
        if method == "GET" and path.startswith("/v1/checkout/sessions/"):
            found = self.sessions.get(path.rsplit("/", 1)[1])
            if found is None:
                raise StripeFailure(404, "invalid_request_error", "No such checkout.session")
            return found
        raise StripeFailure(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        for required in ("mode", "success_url", "line_items"):
            if required not in params:
                raise StripeFailure(
                    400, "invalid_request_error", f"Missing required param: {required}.", required
                )
        now = int(time.time())
        expires_at = int(params.get("expires_at", now + MAX_SESSION_SECONDS))
        if not now + MIN_SESSION_SECONDS <= expires_at <= now + MAX_SESSION_SECONDS:
            raise StripeFailure(
                400,
                "invalid_request_error",
                "The `expires_at` timestamp must be 30 minutes to 24 hours away.",
                "expires_at",
            )
        items = params["line_items"]
        amount = sum(int(item["quantity"]) * int(item["price_data"]["unit_amount"]) for item in items)
        currencies = {item["price_data"]["currency"] for item in items}
        if len(currencies) != 1:
            raise StripeFailure(400, "invalid_request_error", "All line items must share one currency.")
        session_id = stripe_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "currency": currencies.pop(),
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "metadata": params.get("metadata", {}),
            "mode": params["mode"],
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "expires_at": expires_at,
            "created": now,
            "livemode": False,
            "url": f"{self.base_url}/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return session

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent = params.get("payment_intent")
        paid = [s for s in self.sessions.values() if intent is not None and s.get("payment_intent") == intent]
        if not paid:
            raise StripeFailure(
                404, "invalid_request_error", f"No such payment_intent: '{intent}'", "payment_intent"
            )
        session = paid[0]
        already = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
        amount = int(params.get("amount", session["amount_total"] - already))
        if amount <= 0 or already + amount > session["amount_total"]:
            raise StripeFailure(
                400, "invalid_request_error", "Refund amount is greater than the unrefunded amount.", "amount"
            )
        refund = {
            "id": stripe_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": session["currency"],
            "payment_intent": intent,
            "metadata": params.get("metadata", {}),
            "status": "succeeded",
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return refund

    # -- what Stripe does on its side, and the events it sends ------------------------------

    def pay(self, session_id: str, *, intent: str | None = None, status: str = "paid") -> dict[str, Any]:
        """The buyer pays on Stripe's page: the session completes (returns a copy of it)."""
        with self.lock:
            session = self.sessions[session_id]
            session.update(
                payment_intent=intent or session["payment_intent"] or stripe_id("pi"),
                payment_status=status,
                status="complete",
            )
            return json.loads(json.dumps(session))

    def event(self, event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
        """The webhook body Stripe would POST for `obj` (an event object with `data.object`)."""
        body = {
            "id": event_id or stripe_id("evt"),
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        return json.dumps(body).encode()

    def calls(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [params for _, called, params, _ in self.requests if called == path]

    def refunds_of(self, intent: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.refunds.values() if r["payment_intent"] == intent]


def handler_for(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            if fake.down:
                self.close_connection = True
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            params = decode_form(body if method == "POST" else query)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, replayed = fake.handle(method, path, params, headers)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", stripe_id("req"))
            if replayed:
                self.send_header("Idempotent-Replayed", "true")
            if status >= 500:
                self.send_header("Stripe-Should-Retry", "false")
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def running_fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
