"""The catalogue of domain errors. Services raise these; they know nothing of HTTP.

The application maps each family to one status code (see `ticketflow.lib.error_handlers`).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    detail: str = "request refused"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.detail
        self.extra: dict[str, Any] = extra
        super().__init__(self.detail)


class NotFoundError(DomainError):
    detail = "not found"


class ConflictError(DomainError):
    """The request is valid but clashes with the current state (409)."""

    detail = "conflict"


class RuleViolation(DomainError):
    """The request breaks a business rule that does not depend on concurrent state (422)."""

    detail = "request breaks a business rule"


class ServiceUnavailable(DomainError):
    """A feature this deployment is not configured for, or cannot reach now (503)."""

    detail = "service unavailable"


class PermissionDenied(DomainError):
    detail = "not allowed"


class AuthenticationFailed(DomainError):
    detail = "authentication failed"


class TooManyAttempts(DomainError):
    detail = "too many attempts, try again later"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class EmailTaken(ConflictError):
    detail = "a user with this e-mail already exists"


class InvalidCredentials(AuthenticationFailed):
    detail = "wrong e-mail or password"


class EventNotFound(NotFoundError):
    detail = "event not found"


class TicketNotFound(NotFoundError):
    detail = "ticket not found"


class CapacityBelowTaken(ConflictError):
    detail = "capacity cannot go below the tickets already sold or held"
