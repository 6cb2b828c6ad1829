"""The catalogue of domain errors. Services raise these; they know nothing of HTTP.

The application maps each family to one status code (see `ticketflow.lib.error_handlers`).

A refusal's text is written in English where it is raised, marked with `N_` for the catalogues,
with its changing parts as named placeholders (`N_("gate %(name)s not found")` and
`values={"name": ...}`), never formatted into the text beforehand. The API answers with that
English text (`detail`); the back office shows it in the admin's language through
`refusal_text`. A value may itself be a `Phrase` (or a list of them), translated in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ticketflow.lib.i18n import N_, gettext_for


@dataclass(frozen=True)
class Phrase:
    """A text marked with `N_` and the values of its `%(name)s` placeholders."""

    text: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def written(self, gettext: Callable[[str], str]) -> str:
        """The text through `gettext` (the identity: English), its values filled in."""
        text = gettext(self.text)
        if not self.values:
            return text
        return text % {name: shown(value, gettext) for name, value in self.values.items()}


def shown(value: Any, gettext: Callable[[str], str]) -> Any:
    """A placeholder's value as written: phrases translated, a list of them joined by commas."""
    if isinstance(value, Phrase):
        return value.written(gettext)
    if isinstance(value, list | tuple):
        return ", ".join(str(shown(item, gettext)) for item in value)
    return value


def english(text: str) -> str:
    return text


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    `detail` (a class's default or the first argument) is the English text, marked with `N_`;
    `values` fill its placeholders; the other keywords are the API's `extra`.
    """

    detail: str = N_("request refused")

    def __init__(
        self, detail: str | None = None, *, values: Mapping[str, Any] | None = None, **extra: Any
    ) -> None:
        self.phrase = Phrase(detail or self.detail, dict(values or {}))
        self.detail = self.phrase.written(english)
        self.extra: dict[str, Any] = extra
        super().__init__(self.detail)


def refusal_text(error: BaseException, locale: str) -> str:
    """What a reader of `locale` is shown for a refusal: a domain error's text from the catalogues
    (English where it has no translation), any other error's own text (already in that language)."""
    if isinstance(error, DomainError):
        return error.phrase.written(gettext_for(locale))
    return str(error)


class NotFoundError(DomainError):
    detail = N_("not found")


class ConflictError(DomainError):
    """The request is valid but clashes with the current state (409)."""

    detail = N_("conflict")


class RuleViolation(DomainError):
    """The request breaks a business rule that does not depend on concurrent state (422)."""

    detail = N_("request breaks a business rule")


class ServiceUnavailable(DomainError):
    """A feature this deployment is not configured for, or cannot reach now (503)."""

    detail = N_("service unavailable")


class PermissionDenied(DomainError):
    detail = N_("not allowed")


class AuthenticationFailed(DomainError):
    detail = N_("authentication failed")


class TooManyAttempts(DomainError):
    detail = N_("too many attempts, try again later")

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class EmailTaken(ConflictError):
    detail = N_("a user with this e-mail already exists")


class InvalidCredentials(AuthenticationFailed):
    detail = N_("wrong e-mail or password")


class EventNotFound(NotFoundError):
    detail = N_("event not found")


class TicketNotFound(NotFoundError):
    detail = N_("ticket not found")


class CapacityBelowTaken(ConflictError):
    detail = N_("capacity cannot go below the tickets already sold or held")
