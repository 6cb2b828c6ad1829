"""Registration, login and user management."""

from __future__ import annotations

from typing import Any

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import OffsetPagination
from advanced_alchemy.utils.serialization import ModelDictT
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.users import EMAIL_MAX, Language, Role, User
from ticketflow.lib.errors import (
    EmailTaken,
    InvalidCredentials,
    NotFoundError,
    PermissionDenied,
    RuleViolation,
    TooManyAttempts,
)
from ticketflow.lib.i18n import N_
from ticketflow.lib.mail_addresses import InvalidAddress, mail_address
from ticketflow.lib.passwords import Passwords
from ticketflow.lib.ratelimit import AttemptLimiter
from ticketflow.lib.repository import RepositoryService

PRIVILEGED_ROLES = frozenset({Role.ADMIN, Role.STAFF})
UNREACHABLE_ADDRESS = N_(
    "this e-mail address cannot receive our e-mails (letters with accents before the @ or unusual"
    " punctuation): please use another address"
)
EMAIL_TOO_LONG = N_("this e-mail address is longer than 254 characters once written in lower case")


def normalise_email(email: str) -> str:
    return email.strip().lower()


class UserRepository(SQLAlchemyAsyncRepository[User]):
    model_type = User


class AccountService(RepositoryService[User, UserRepository]):
    """Use cases of accounts. Each public method is one transaction."""

    repository_type = UserRepository

    def __init__(self, session: AsyncSession, passwords: Passwords, **options: Any) -> None:
        super().__init__(session, auto_refresh=False, **options)
        self.passwords = passwords

    async def get_user(self, user_id: int) -> User:
        user = await self.get_one_or_none(User.id == user_id)
        if user is None:
            raise NotFoundError(N_("user not found"))
        return user

    async def find_by_email(self, email: str) -> User | None:
        return await self.get_one_or_none(User.email == normalise_email(email))

    async def to_model_on_create(self, data: ModelDictT[User]) -> ModelDictT[User]:
        """A new account as stored: trimmed name, lower-case e-mail, argon2 hash instead of the password."""
        if isinstance(data, dict):
            data = dict(data)
            data["name"] = data["name"].strip()
            data["email"] = normalise_email(data["email"])
            data["password_hash"] = await self.passwords.hash(data.pop("password"))
        return data

    async def register(
        self,
        *,
        name: str,
        email: str,
        password: str,
        role: Role,
        actor: User | None,
        client_limiter: AttemptLimiter,
        client: str,
        locale: Language = Language.EN,
    ) -> User:
        """Create an account; only an admin may hand out `admin` or `staff`.

        Each sign-up but an admin's is counted per client address before the password is hashed
        (a hash costs ARGON2_MEMORY_KIB): a client past its allowance gets `TooManyAttempts`.
        """
        is_admin = actor is not None and actor.role == Role.ADMIN
        if role in PRIVILEGED_ROLES and not is_admin:
            raise PermissionDenied(N_("only an admin can create admin or staff accounts"))
        if not is_admin:
            await client_limiter.acquire(client)
        return await self.create_user(name=name, email=email, password=password, role=role, locale=locale)

    async def create_user(
        self, *, name: str, email: str, password: str, role: Role, locale: Language = Language.EN
    ) -> User:
        """A new account, with an address the mailer can write (`mail_address`): tickets go to it.

        The address is measured as it is stored: lower-casing can lengthen it (`"İ".lower()` is two
        characters), and the column holds EMAIL_MAX characters.
        """
        stored_email = normalise_email(email)
        if len(stored_email) > EMAIL_MAX:
            raise RuleViolation(EMAIL_TOO_LONG, field="email")
        try:
            mail_address(stored_email)
        except InvalidAddress:
            raise RuleViolation(UNREACHABLE_ADDRESS, field="email") from None
        if await self.find_by_email(email) is not None:
            raise EmailTaken
        try:
            values = {"name": name, "email": email, "password": password, "role": role, "locale": locale}
            user = await self.create(values)
            await self.session.commit()
        except IntegrityError as exc:  # a concurrent registration took the address first
            await self.session.rollback()
            raise EmailTaken from exc
        return user

    async def update_profile(
        self, user_id: int, *, name: str | None = None, locale: Language | None = None
    ) -> User:
        """Change one's own name or language; fields left `None` stay."""
        user = await self.get_user(user_id)
        if name is not None:
            user.name = name.strip()
        if locale is not None:
            user.locale = locale
        await self.session.commit()
        return user

    async def authenticate(
        self,
        email: str,
        password: str,
        *,
        client_limiter: AttemptLimiter,
        client: str,
        account_limiter: AttemptLimiter,
    ) -> User:
        """The user with these credentials, or `InvalidCredentials` (same answer, same cost).

        Each attempt is counted before the password is checked, per client and per account and
        client together, and given back when it succeeds: only failures use up the allowance.
        Counting the account per client means a stranger's wrong passwords lock out the stranger,
        never the owner signing in from elsewhere; guessing stays bounded by both allowances.
        """
        email = normalise_email(email)
        client_attempt = await client_limiter.acquire(client)
        try:
            account_attempt = await account_limiter.acquire(f"{email}|{client}")
        except TooManyAttempts:
            await client_limiter.release(client_attempt)
            raise
        user = await self.find_by_email(email)
        ok = await self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            raise InvalidCredentials
        await client_limiter.release(client_attempt)
        await account_limiter.release(account_attempt)
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = await self.passwords.hash(password)
            await self.session.commit()
        return user

    async def list_users(self, *, role: Role | None, limit_offset: LimitOffset) -> OffsetPagination[User]:
        """Oldest first, optionally of one role."""
        conditions = [] if role is None else [User.role == role]
        return await self.page(*conditions, limit_offset=limit_offset, order_by=[User.id.asc()])
